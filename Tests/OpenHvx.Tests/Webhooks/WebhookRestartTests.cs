using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Webhooks;

/// <summary>
/// Delivery state lives in the store: an orchestrator stopped while a receiver is failing, and started again on the same data,
/// delivers every event afterwards, in order, none lost, none sent again that had been taken before the stop.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
public sealed class WebhookRestartTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Orchestrator:Webhooks:AllowedNetworks:0"] = "127.0.0.0/8",
        ["Orchestrator:Webhooks:FirstRetryInterval"] = "00:00:00.200",
        ["Orchestrator:Webhooks:MaxRetryInterval"] = "00:00:00.400",
        ["Orchestrator:Webhooks:PollInterval"] = "00:00:00.500",
        ["Orchestrator:Webhooks:MaxConsecutiveFailures"] = "1000",
    };

    [Test]
    public async Task Events_that_could_not_be_delivered_before_a_restart_arrive_after_it_in_order()
    {
        using var folder = new TempFolder(nameof(WebhookRestartTests));
        await using var receiver = await WebhookReceiver.StartAsync();
        // The first two events are taken; then the receiver fails until the orchestrator has been restarted.
        var taken = new HashSet<string>();
        var failing = true;
        receiver.Answer = (_, id) =>
        {
            lock (taken)
            {
                if (taken.Contains(id) || taken.Count < 2 || !Volatile.Read(ref failing))
                {
                    taken.Add(id);
                    return 200;
                }
                return 503;
            }
        };

        Guid taskId;
        await using (var first = new TestDevHost(folder.Path, Settings))
        {
            using var admin = await first.StartAsync();
            using var tenant = await WebhookApi.TenantAsync(admin, first.Url, "hook-restart");
            await WebhookApi.CreateAsync(tenant, new { url = receiver.Url + "/restart", events = new[] { "*" } });
            taskId = await WebhookApi.RunAsync(tenant, "vm.create", new { name = "survivor", cpu = 1, ram = "1GB" });
            await Eventually.True(() => Task.FromResult(receiver.All.Count(r => r.Answered == 503) >= 2), TimeSpan.FromSeconds(30),
                "deliveries fail after the first two");
        }
        var beforeRestart = receiver.All.Count;
        Volatile.Write(ref failing, false);

        await using var second = new TestDevHost(folder.Path, Settings);
        using var _ = await second.StartAsync();
        var accepted = await Eventually.Get(() => Task.FromResult(receiver.Accepted("/restart")), r => r.Any(x => x.Type == "vm.create.SUCCESS"),
            TimeSpan.FromSeconds(60), "every event arrives after the restart");

        var logged = (await WebhookApi.LoggedAsync(second, taskId)).Select(e => $"evt_{e.Sequence}").ToList();
        // At least once: a request cut off by the stop may be taken again after it, always with its own id.
        Assert.That(accepted.Select(r => r.Id).Distinct(), Is.EqualTo(logged), "all, in order");
        Assert.That(accepted.Count(r => r.Id == logged[0] || r.Id == logged[1]), Is.EqualTo(2), "those taken before the stop are not sent again");
        Assert.That(receiver.All.Skip(beforeRestart).First().Id, Is.EqualTo(receiver.All.First(r => r.Answered == 503).Id),
            "after the restart delivery resumes at the event that failed");
    }
}
