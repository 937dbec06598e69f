using System.Text;
using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.DeadLetters;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Webhooks;
using OpenHvx.Tests.Persistence;

namespace OpenHvx.Tests.Telemetry;

/// <summary>The counts the metrics' gauges sample, per adapter: quota holds still held, dead letters kept, outbox entries waiting, webhook backlog.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class StoreCountMetricsTests(string family) : StoreContract(family)
{
    private QuotaLedgerEntry Hold(string key, string status)
    {
        var now = Clock.GetUtcNow();
        return new QuotaLedgerEntry(key, "acme", "agent-1", new QuotaAmounts(1, 1024, 0, 1), status, now, now.AddMinutes(5));
    }

    [Test]
    public async Task Only_entries_still_held_count_as_quota_holds_lapsed_ones_included()
    {
        Assert.That(await _stores.Quotas.CountHeldAsync(None), Is.Zero);
        await _stores.Quotas.TryInsertAsync(Hold("task-1", QuotaHoldStatuses.Held), None);
        await _stores.Quotas.TryInsertAsync(Hold("task-2", QuotaHoldStatuses.Held) with { ExpiresAt = Clock.GetUtcNow().AddMinutes(-1) }, None);
        await _stores.Quotas.TryInsertAsync(Hold("task-3", QuotaHoldStatuses.Committed), None);
        await _stores.Quotas.TryInsertAsync(Hold("task-4", QuotaHoldStatuses.Released), None);

        Assert.That(await _stores.Quotas.CountHeldAsync(None), Is.EqualTo(2));
    }

    [Test]
    public async Task Every_dead_letter_counts_replayed_or_not()
    {
        Assert.That(await _stores.DeadLetters.CountAsync(None), Is.Zero);
        var letters = Enumerable.Range(0, 3).Select(i => new DeadLetter(Guid.NewGuid(), "orchestrator.results_error", Guid.NewGuid(), null, "application/json",
            Encoding.UTF8.GetBytes("{}"), "agent.agent-a", $"reason {i}", null, Clock.GetUtcNow())).ToList();
        foreach (var letter in letters)
            await _stores.DeadLetters.TryAddAsync(letter, None);
        await _stores.DeadLetters.TryAddAsync(letters[0], None);
        await _stores.DeadLetters.MarkReplayedAsync(letters[1].Id, Clock.GetUtcNow(), None);

        Assert.That(await _stores.DeadLetters.CountAsync(None), Is.EqualTo(3));
    }

    [Test]
    public async Task Outbox_entries_count_until_removed()
    {
        Assert.That(await _stores.Outbox.CountAsync(None), Is.Zero);
        var tasks = Enumerable.Range(0, 3).Select(i =>
        {
            var id = Guid.NewGuid();
            return new AgentTask(id, "acme", "agent-1", "vm.create", JsonSerializer.SerializeToElement(new { name = $"vm{i}" }), id.ToString(), null);
        }).ToList();
        foreach (var task in tasks)
            await _stores.Outbox.AddAsync(task, Clock.GetUtcNow(), None);
        await _stores.Outbox.AddAsync(tasks[0], Clock.GetUtcNow(), Clock.GetUtcNow().AddMinutes(1), None);
        await _stores.Outbox.RemoveAsync(tasks[2].TaskId, None);

        Assert.That(await _stores.Outbox.CountAsync(None), Is.EqualTo(2));
    }

    [Test]
    public async Task The_webhook_backlog_is_the_events_of_their_tenants_past_each_active_webhooks_cursor()
    {
        Assert.That(await _stores.Webhooks.CountBacklogAsync(None), Is.Zero);
        var sequences = new List<long>();
        foreach (var tenant in new[] { "t1", "t1", "t1", "t2" })
        {
            var change = new TaskStateChanged(Guid.NewGuid(), tenant, "vm.create", null, "Validating", TaskStatuses.Pending, Clock.GetUtcNow(), null);
            sequences.Add(await _stores.Transactions.InTransactionAsync(() => _stores.Events.AppendAsync(change, None), None));
        }
        Webhook New(string tenantId, WebhookDelivery delivery) => new("wh_" + Guid.NewGuid().ToString("N"), tenantId, "https://hooks.example.com/openhvx", ["*"],
            WebhookSecret.Generate(), Clock.GetUtcNow(), delivery);
        // t1: one webhook that has passed the first event (2 behind), one that has passed none (3 behind), one disabled; t2: one up to date.
        await _stores.Webhooks.TryCreateAsync(New("t1", new WebhookDelivery(Webhook.Active, sequences[0])), 10, None);
        await _stores.Webhooks.TryCreateAsync(New("t1", new WebhookDelivery(Webhook.Active, 0)), 10, None);
        await _stores.Webhooks.TryCreateAsync(New("t1", new WebhookDelivery(Webhook.Disabled, 0)), 10, None);
        await _stores.Webhooks.TryCreateAsync(New("t2", new WebhookDelivery(Webhook.Active, sequences[3])), 10, None);

        Assert.That(await _stores.Webhooks.CountBacklogAsync(None), Is.EqualTo(5));
    }
}
