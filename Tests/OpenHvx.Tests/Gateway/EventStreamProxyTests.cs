using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// Task event streams through the gateway under tight proxy settings: a 3 s activity timeout, two requests in flight per tenant,
/// keep-alives every half second, revocations read every second.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class EventStreamProxyTests : DevHostFixture
{
    private static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(3);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:ProxyActivityTimeout"] = ActivityTimeout.ToString(),
        ["Gateway:Fairness:MaxInFlight"] = "2",
        ["Orchestrator:EventStreams:KeepAlive"] = "00:00:00.500",
        ["Orchestrator:RevocationPoll"] = "00:00:01",
    };

    private async Task<HttpClient> TenantAsync(string tenantId, string role = "tenant-user-rw")
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId, name = tenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return await Tokens.TenantClientAsync(Client, DevHost.Url, tenantId + "-user", tenantId, role);
    }

    [Test]
    public async Task An_idle_stream_outlives_the_proxys_activity_timeout_on_keep_alives_and_still_delivers()
    {
        using var tenant = await TenantAsync("idle");
        using var response = await EventStreamClient.SendAsync(tenant, "/api/v1/tenant/events");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        var idle = Stopwatch.StartNew();
        var keepAlives = 0;
        while (idle.Elapsed < ActivityTimeout * 2)
        {
            var line = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(line, Is.Not.Null, $"the stream was cut after {idle.Elapsed}");
            if (line!.StartsWith(':'))
                keepAlives++;
        }
        var submitted = await tenant.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name = "idle-vm", cpu = 1, ram = "1GB" } });
        Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        string? last;
        do
            last = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        while (last is not null && last != "event: vm.create.SUCCESS");

        Assert.That(last, Is.EqualTo("event: vm.create.SUCCESS"), "events still arrive");
        Assert.That(keepAlives, Is.GreaterThanOrEqualTo(4), "keep-alive comments while idle");
    }

    [Test]
    public async Task Open_streams_do_not_take_their_tenants_request_turns_at_the_gateway()
    {
        using var tenant = await TenantAsync("busy", "tenant-user-r");
        var streams = new List<EventStreamClient>();
        try
        {
            for (var i = 0; i < 3; i++)
                streams.Add(await EventStreamClient.OpenAsync(tenant, "/api/v1/tenant/events"));
            var served = DevHost.Services.GetRequiredService<TaskEventStreams>();
            await Eventually.True(() => Task.FromResult(served.OpenCount == 3), TimeSpan.FromSeconds(10), "all three streams are served");

            using var list = await tenant.GetAsync("/api/v1/tenant/tasks").WaitAsync(TimeSpan.FromSeconds(10));

            Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync();
        }
    }

    [Test]
    public async Task A_stream_ends_when_its_tenant_is_disabled()
    {
        using var tenant = await TenantAsync("fading", "tenant-user-r");
        await using var stream = await EventStreamClient.OpenAsync(tenant, "/api/v1/tenant/events");

        Assert.That((await Client.PatchAsJsonAsync("/api/v1/admin/tenants/fading", new { status = "disabled" })).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That(await stream.NextAsync(TimeSpan.FromSeconds(15)), Is.Null, "the server ended the stream");
    }

    [Test]
    public async Task A_stream_ends_when_its_users_access_is_revoked()
    {
        using var tenant = await TenantAsync("revoked", "tenant-user-r");
        await using var stream = await EventStreamClient.OpenAsync(tenant, "/api/v1/tenant/events");

        Assert.That((await Client.DeleteAsync("/api/v1/admin/users/revoked-user")).IsSuccessStatusCode, Is.True);

        Assert.That(await stream.NextAsync(TimeSpan.FromSeconds(15)), Is.Null, "the server ended the stream");
    }
}
