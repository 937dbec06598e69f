using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Cli;

/// <summary>--wait without the task's event stream: the CLI polls the task instead.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CliPollingTests : CliFixture
{
    // One stream per tenant: a tenant that holds one is refused a second (429), as behind a proxy that drops streams.
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Orchestrator:EventStreams:MaxStreamsPerTenant"] = "1",
        ["Orchestrator:EventStreams:RetryAfter"] = "00:00:01",
    };

    [Test]
    public async Task Vm_create_wait_follows_the_task_by_polling_when_its_event_stream_is_refused()
    {
        var tenantId = await TenantAsync();
        var (_, token) = await TenantUserAsync(tenantId);
        using var tenant = Tokens.Client(DevHost.Url, token);
        await using var held = await EventStreamClient.OpenAsync(tenant, "/api/v1/tenant/events");

        var run = await RunAsync(Environment(token), ["vm", "create", "--name", "polled", "--wait"]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Error, Does.Contain("polling the task").And.Contain("Succeeded  SUCCESS"), "the end, seen by polling");
        Assert.That(run.Out, Does.Contain("SUCCESS"));
    }
}
