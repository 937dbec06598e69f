using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Orchestrator.Webhooks;

namespace OpenHvx.Tests.Persistence;

/// <summary>
/// The contract of <see cref="IWebhookStore"/>: webhooks kept whole with their delivery state, a per-tenant limit that concurrent
/// creations cannot pass, due webhooks listed by their next attempt, and delivery state replaced only over the state it was read as.
/// </summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class WebhookStoreContractTests(string family) : StoreContract(family)
{
    private Webhook New(string tenantId, string? id = null, WebhookDelivery? delivery = null) => new(
        id ?? "wh_" + Guid.NewGuid().ToString("N"), tenantId, "https://hooks.example.com/openhvx", ["vm.create.SUCCESS", "*.FAILED"],
        WebhookSecret.Generate(), Clock.GetUtcNow(), delivery ?? new WebhookDelivery(Webhook.Active, 42));

    private static void AssertSame(Webhook? actual, Webhook expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.That(actual! with { Events = expected.Events }, Is.EqualTo(expected));
        Assert.That(actual.Events, Is.EqualTo(expected.Events));
    }

    [Test]
    public async Task A_webhook_is_kept_whole_listed_per_tenant_and_deleted()
    {
        var first = New("t1");
        Clock.Advance(TimeSpan.FromSeconds(1));
        var second = New("t1");
        var other = New("t2");
        foreach (var webhook in new[] { first, second, other })
            Assert.That(await _stores.Webhooks.TryCreateAsync(webhook, 10, None), Is.True);

        AssertSame(await _stores.Webhooks.GetAsync(first.Id, None), first);
        AssertSame(await _stores.Reopen().Webhooks.GetAsync(second.Id, None), second);
        Assert.That((await _stores.Webhooks.ListAsync("t1", None)).Select(w => w.Id), Is.EqualTo(new[] { first.Id, second.Id }), "oldest first");
        Assert.That((await _stores.Webhooks.ListAsync(null, None)).Select(w => w.Id), Is.EquivalentTo(new[] { first.Id, second.Id, other.Id }));
        Assert.That(await _stores.Webhooks.GetAsync(first.Id + "x", None), Is.Null, "ids are matched whole");

        Assert.That(await _stores.Webhooks.DeleteAsync(first.Id, None), Is.True);
        Assert.That(await _stores.Webhooks.DeleteAsync(first.Id, None), Is.False, "already gone");
        Assert.That(await _stores.Webhooks.GetAsync(first.Id, None), Is.Null);
    }

    [Test]
    public async Task Concurrent_creations_never_pass_the_tenants_limit()
    {
        Assert.That(await _stores.Webhooks.TryCreateAsync(New("t2"), 3, None), Is.True, "another tenant's do not count");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await _stores.Webhooks.TryCreateAsync(New("t1"), 3, None);
                }
                catch (Exception ex) when (_stores.IsTransient(ex) && attempt < 20)
                {
                }
            }
        }));

        Assert.That(results.Count(created => created), Is.EqualTo(3));
        Assert.That(await _stores.Webhooks.ListAsync("t1", None), Has.Count.EqualTo(3));
    }

    [Test]
    public async Task Only_active_webhooks_whose_attempt_is_due_are_listed_the_longest_waiting_first()
    {
        var now = Clock.GetUtcNow();
        var fresh = New("t1", "wh_fresh");
        var overdue = New("t1", "wh_overdue", new WebhookDelivery(Webhook.Active, 1, Failures: 2, NextAttemptAt: now.AddSeconds(-30)));
        var due = New("t1", "wh_due", new WebhookDelivery(Webhook.Active, 1, Failures: 1, NextAttemptAt: now));
        var later = New("t1", "wh_later", new WebhookDelivery(Webhook.Active, 1, Failures: 1, NextAttemptAt: now.AddSeconds(30)));
        var disabled = New("t1", "wh_disabled", new WebhookDelivery(Webhook.Disabled, 1, Failures: 10, DisabledAt: now, DisabledReason: "too many"));
        foreach (var webhook in new[] { fresh, overdue, due, later, disabled })
            await _stores.Webhooks.TryCreateAsync(webhook, 10, None);

        Assert.That((await _stores.Webhooks.ListDueAsync(now, 10, None)).Select(w => w.Id), Is.EqualTo(new[] { fresh.Id, overdue.Id, due.Id }));
        Assert.That((await _stores.Webhooks.ListDueAsync(now, 1, None)).Select(w => w.Id), Is.EqualTo(new[] { fresh.Id }), "a limit");
        Assert.That((await _stores.Webhooks.ListDueAsync(now.AddMinutes(1), 10, None)).Select(w => w.Id), Does.Contain(later.Id));
    }

    [Test]
    public async Task Delivery_state_is_replaced_only_over_the_cursor_and_status_it_was_read_with()
    {
        var webhook = New("t1");
        await _stores.Webhooks.TryCreateAsync(webhook, 10, None);
        var read = webhook.Delivery;
        var delivered = read with { Cursor = 50, LastDeliveredAt = Clock.GetUtcNow(), LastAttemptAt = Clock.GetUtcNow() };

        Assert.That(await _stores.Webhooks.SaveDeliveryAsync(webhook.Id, read, delivered, None), Is.True);
        Assert.That(await _stores.Webhooks.SaveDeliveryAsync(webhook.Id, read, read with { Cursor = 45 }, None), Is.False, "a stale writer cannot move the cursor back");
        var disabled = delivered with
        {
            Status = Webhook.Disabled, Failures = 10, LastError = "HTTP 500 Internal Server Error", DisabledAt = Clock.GetUtcNow(), DisabledReason = "10 failed",
        };
        Assert.That(await _stores.Webhooks.SaveDeliveryAsync(webhook.Id, delivered, disabled, None), Is.True);
        Assert.That(await _stores.Webhooks.SaveDeliveryAsync(webhook.Id, delivered, delivered with { Failures = 1 }, None), Is.False,
            "a worker that read it active does not undo the disabling");
        AssertSame(await _stores.Webhooks.GetAsync(webhook.Id, None), webhook with { Delivery = disabled });

        await _stores.Webhooks.DeleteAsync(webhook.Id, None);
        Assert.That(await _stores.Webhooks.SaveDeliveryAsync(webhook.Id, disabled, disabled with { Status = Webhook.Active }, None), Is.False, "gone");
    }

    [Test]
    public async Task Deleting_a_tenant_deletes_its_webhooks_so_a_tenant_created_again_under_its_id_has_none()
    {
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("t1", "t1", Tenant.Active, new QuotaAmounts(-1, -1, -1, -1)), None), Is.True);
        var gone = New("t1");
        var kept = New("t2");
        await _stores.Webhooks.TryCreateAsync(gone, 10, None);
        await _stores.Webhooks.TryCreateAsync(kept, 10, None);

        Assert.That(await _stores.Tenants.DeleteAsync("t1", None), Is.True);

        Assert.That(await _stores.Webhooks.GetAsync(gone.Id, None), Is.Null);
        Assert.That(await _stores.Webhooks.ListAsync(null, None), Has.Count.EqualTo(1).And.Some.Matches<Webhook>(w => w.Id == kept.Id));
    }
}
