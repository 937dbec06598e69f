using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="ITenantStore"/>: create versus upsert, and a delete that takes everything the tenant owns.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class TenantStoreContractTests(string family) : StoreContract(family)
{
    private static readonly QuotaAmounts Limits = new(8, 16384, 200_000, 4);

    [Test]
    public async Task Create_stores_a_new_tenant_once_and_leaves_an_existing_one_as_it_is()
    {
        var created = Clock.GetUtcNow();
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None), Is.True);
        Clock.Advance(TimeSpan.FromHours(1));

        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Other", Tenant.Disabled, QuotaAmounts.Zero), None), Is.False);

        Assert.That(await _stores.Tenants.GetAsync("acme", None), Is.EqualTo(new Tenant("acme", "Acme", Tenant.Active, Limits, created)));
        Assert.That(await _stores.Tenants.GetAsync("nobody", None), Is.Null);
    }

    [Test]
    public async Task Upsert_creates_then_updates_name_status_and_limits_keeping_the_creation_time()
    {
        var created = Clock.GetUtcNow();
        await _stores.Tenants.UpsertAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None);
        Assert.That(await _stores.Tenants.GetAsync("acme", None), Is.EqualTo(new Tenant("acme", "Acme", Tenant.Active, Limits, created)));
        Clock.Advance(TimeSpan.FromHours(1));

        var changed = new Tenant("acme", "Acme Corp", Tenant.Disabled, new QuotaAmounts(-1, 1024, 0, 1));
        await _stores.Tenants.UpsertAsync(changed, None);

        Assert.That(await _stores.Tenants.GetAsync("acme", None), Is.EqualTo(changed with { CreatedAt = created }));
    }

    [Test]
    public async Task List_returns_every_tenant_by_id()
    {
        foreach (var id in new[] { "beta", "acme", "gamma" })
            await _stores.Tenants.TryCreateAsync(new Tenant(id, id.ToUpperInvariant(), Tenant.Active, Limits), None);

        var tenants = await _stores.Tenants.ListAsync(None);

        Assert.That(tenants.Select(t => (t.TenantId, t.Name)), Is.EqualTo(new[] { ("acme", "ACME"), ("beta", "BETA"), ("gamma", "GAMMA") }));
    }

    [Test]
    public async Task Delete_of_an_unknown_tenant_is_false()
    {
        Assert.That(await _stores.Tenants.DeleteAsync("nobody", None), Is.False);
    }

    private sealed record Owned(Guid TaskId, string ResourceId, string LockedVm);

    /// <summary>Gives <paramref name="tenantId"/> one of everything a tenant owns, through the ports, as a VM create would.</summary>
    private async Task<Owned> GiveEverythingAsync(string tenantId)
    {
        var taskId = Guid.NewGuid();
        var owned = new Owned(taskId, Guid.NewGuid().ToString(), "vm-of-" + tenantId);
        var now = Clock.GetUtcNow();
        await _stores.Tenants.TryCreateAsync(new Tenant(tenantId, tenantId, Tenant.Active, Limits), None);
        Assert.That(await _stores.Tasks.TryInsertAsync(new TaskState
        {
            CorrelationId = taskId, CurrentState = "AwaitingResult", TenantId = tenantId, Action = "vm.create",
            Data = JsonSerializer.SerializeToElement(new { name = "web1" }), CreatedAt = now, UpdatedAt = now,
        }, None), Is.True);
        Assert.That((await _stores.Ledger.TryHoldAsync(taskId, tenantId, "agent-1", new QuotaAmounts(2, 2048, 10240, 1), TimeSpan.FromMinutes(5))).Held, Is.True);
        await _stores.Ledger.AdjustAsync(tenantId, new QuotaAmounts(1, 0, 0, 0));
        await _stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-1", new AgentCapacity(2, 2048, 10240)), None);
        Assert.That(await _stores.Resources.TryLockAsync(owned.LockedVm, taskId, None), Is.True);
        Assert.That(await _stores.Resources.TryReserveNameAsync(tenantId, "web1", taskId, None), Is.True);
        await _stores.Resources.LinkAsync(new TenantResource(owned.ResourceId, tenantId, "vm", "agent-1", "db1", taskId, false, now), None);
        Assert.That(await _stores.Idempotency.TryClaimAsync(tenantId, "key-1", "hash", taskId, None), Is.Null);
        await _stores.Outbox.AddAsync(new AgentTask(taskId, tenantId, "agent-1", "vm.create", JsonSerializer.SerializeToElement(new { name = "web1" }), taskId.ToString()),
            now, None);
        return owned;
    }

    [Test]
    public async Task Delete_removes_the_tenant_with_everything_it_owns_and_nothing_of_another_tenant()
    {
        // "acme-2" shares a prefix with "acme": a delete that matched ids by prefix would take its data too.
        var gone = await GiveEverythingAsync("acme");
        var kept = await GiveEverythingAsync("acme-2");
        var someoneElse = Guid.NewGuid();

        Assert.That(await _stores.Tenants.DeleteAsync("acme", None), Is.True);

        var outbox = (await _stores.Outbox.ListAsync(Clock.GetUtcNow().AddMinutes(1), 10, None)).Select(t => t.TaskId).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Tenants.GetAsync("acme", None), Is.Null, "tenant");
            Assert.That(await _stores.Tasks.LoadAsync(gone.TaskId, None), Is.Null, "task");
            Assert.That(await _stores.Quotas.GetEntryAsync(gone.TaskId.ToString(), None), Is.Null, "quota hold");
            Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(QuotaCounters.Zero), "quota counters");
            Assert.That((await _stores.ReadLedgerSumsAsync("acme", Clock.GetUtcNow())).Committed, Is.EqualTo(QuotaAmounts.Zero), "quota adjustments");
            Assert.That(await _stores.Agents.GetPlacementAsync(gone.TaskId, None), Is.Null, "placement");
            Assert.That(outbox, Does.Not.Contain(gone.TaskId), "outbox entry");
            Assert.That(await _stores.Resources.ListAsync("acme", None), Is.Empty, "resources");
            Assert.That(await _stores.Resources.TryLockAsync(gone.LockedVm, someoneElse, None), Is.True, "VM lock");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", someoneElse, None), Is.True, "reserved name");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "db1", someoneElse, None), Is.True, "the linked VM's name");
            Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "other-hash", someoneElse, None), Is.Null, "idempotency key");

            Assert.That(await _stores.Tenants.GetAsync("acme-2", None), Is.Not.Null, "the other tenant");
            Assert.That(await _stores.Tasks.LoadAsync(kept.TaskId, None), Is.Not.Null, "its task");
            Assert.That(await _stores.Quotas.GetEntryAsync(kept.TaskId.ToString(), None), Is.Not.Null, "its hold");
            Assert.That(await _stores.Quotas.GetCountersAsync("acme-2", None), Is.EqualTo(new QuotaCounters(new QuotaAmounts(1, 0, 0, 0), new QuotaAmounts(2, 2048, 10240, 1))),
                "its counters");
            Assert.That(await _stores.Agents.GetPlacementAsync(kept.TaskId, None), Is.Not.Null, "its placement");
            Assert.That(outbox, Does.Contain(kept.TaskId), "its outbox entry");
            Assert.That((await _stores.Resources.ListAsync("acme-2", None)).Select(r => r.ResourceId), Is.EqualTo(new[] { kept.ResourceId }), "its resource");
            Assert.That(await _stores.Resources.TryLockAsync(kept.LockedVm, someoneElse, None), Is.False, "its VM lock");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme-2", "web1", someoneElse, None), Is.False, "its name");
            Assert.That((await _stores.Idempotency.TryClaimAsync("acme-2", "key-1", "other-hash", someoneElse, None))?.TaskId, Is.EqualTo(kept.TaskId), "its key");
        }
    }

    [Test]
    public async Task A_tenant_created_again_after_a_delete_starts_empty()
    {
        var old = await GiveEverythingAsync("acme");
        Assert.That(await _stores.Tenants.DeleteAsync("acme", None), Is.True);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var recreatedAt = Clock.GetUtcNow();

        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme again", Tenant.Active, Limits), None), Is.True);

        Assert.That((await _stores.Tenants.GetAsync("acme", None))?.CreatedAt, Is.EqualTo(recreatedAt), "a new creation time: older tokens are not its");
        var usage = (await _stores.Ledger.GetUsageAsync("acme", None))!;
        Assert.That((usage.Cpu.Used, usage.Cpu.Held, usage.VmCount.Held), Is.EqualTo((0L, 0L, 0L)));
        Assert.That((await _stores.Ledger.TryHoldAsync(Guid.NewGuid(), "acme", "agent-1", Limits, TimeSpan.FromMinutes(5))).Held, Is.True, "the whole limit is free");
        Assert.That(await _stores.Quotas.GetEntryAsync(old.TaskId.ToString(), None), Is.Null, "the old task's hold is not the new tenant's");
        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", Guid.NewGuid(), None), Is.Null, "nor its idempotency key");
    }
}
