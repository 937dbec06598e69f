using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Tests.Persistence;

/// <summary>
/// <see cref="InventoryReconciler"/>'s rules on top of each adapter family: VMs gone, back, resized and unmanaged; the ledger stays
/// equal to the counters; what is left alone (a VM a task changed after the inventory was collected, one a task holds, an
/// inventory without a VM list or older than the last); events only after the commit.
/// </summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class InventoryReconcilerContractTests(string family) : StoreContract(family)
{
    private const string Agent = "agent-1";
    private const string TenantId = "acme";

    private readonly List<ResourceChanged> _published = [];

    private InventoryReconciler Reconciler => new(_stores.Agents, _stores.Resources, _stores.Ledger, _stores.Transactions,
        new RecordingPublisher(_published), Clock, Microsoft.Extensions.Options.Options.Create(new OrchestratorOptions()), NullLogger<InventoryReconciler>.Instance);

    private sealed class RecordingPublisher(List<ResourceChanged> published) : IResourceEventPublisher
    {
        public Task PublishAsync(ResourceChanged change)
        {
            lock (published)
                published.Add(change);
            return Task.CompletedTask;
        }
    }

    private sealed record HostVm(string Id, string Name, long Cpu, long MemoryMB);

    [SetUp]
    public async Task CreateTenantAsync()
    {
        _published.Clear();
        await _stores.Tenants.TryCreateAsync(new Tenant(TenantId, TenantId, Tenant.Active, new QuotaAmounts(4, -1, -1, -1)), None);
    }

    /// <summary>A VM a task created a minute ago (agent clock), linked and charged as a vm.create success does.</summary>
    private async Task<TenantResource> LinkVmAsync(string name, long cpu = 2, long memoryMB = 2048, string tenantId = TenantId, DateTimeOffset? changedAt = null)
    {
        var vm = new TenantResource(Guid.NewGuid().ToString(), tenantId, "vm", Agent, name, Guid.NewGuid(), false, Clock.GetUtcNow(),
            new QuotaAmounts(cpu, memoryMB, 10240, 1), AgentChangedAt: changedAt ?? Clock.GetUtcNow().AddMinutes(-1));
        await _stores.Resources.LinkAsync(vm, None);
        await _stores.Ledger.CorrectAsync(tenantId, Agent, vm.Charge!, "test", None);
        return vm;
    }

    private static HostVm OnHost(TenantResource vm, long? cpu = null, long? memoryMB = null)
        => new(vm.ResourceId, vm.TenantId + "." + vm.Name, cpu ?? vm.Charge!.Cpu, memoryMB ?? vm.Charge!.MemoryMB);

    /// <summary>The canonical inventory (as _inventory.ps1 writes it) with these VMs, collected now (agent clock).</summary>
    private JsonElement Inventory(params HostVm[] vms) => InventoryAt(Clock.GetUtcNow(), vms);

    private static JsonElement InventoryAt(DateTimeOffset collectedAt, params HostVm[] vms) => JsonSerializer.SerializeToElement(new
    {
        schemaVersion = "1.0.0",
        collectedAt = collectedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'"),
        host = new { hostname = "host-1" },
        networks = Array.Empty<object>(),
        datastores = Array.Empty<object>(),
        vms = vms.Select(v => new
        {
            id = v.Id, name = v.Name, powerState = "Running", cpu = new { vcpus = v.Cpu }, memoryMb = v.MemoryMB,
            disks = Array.Empty<object>(), nics = Array.Empty<object>(),
        }),
    });

    /// <summary>Reconciles, then moves the clock on (the next inventory is a newer one).</summary>
    private async Task<ReconciliationOutcome> ReconcileAsync(JsonElement inventory)
    {
        var outcome = await Reconciler.RecordAsync(Agent, inventory, Clock.GetUtcNow(), None);
        Clock.Advance(TimeSpan.FromSeconds(10));
        return outcome;
    }

    private async Task<TenantResource> ReadAsync(TenantResource vm) => (await _stores.Resources.GetAsync(vm.TenantId, vm.ResourceId, None))!;

    private async Task<QuotaAmounts> UsedAsync(string tenantId = TenantId)
    {
        var usage = (await _stores.Ledger.GetUsageAsync(tenantId, None))!;
        return new QuotaAmounts(usage.Cpu.Used, usage.MemoryMB.Used, usage.StorageMB.Used, usage.VmCount.Used);
    }

    private async Task AssertCountersMatchTheLedgerAsync(string tenantId = TenantId)
    {
        var sums = await _stores.ReadLedgerSumsAsync(tenantId, Clock.GetUtcNow());
        Assert.That((await _stores.Quotas.GetCountersAsync(tenantId, None)).Used, Is.EqualTo(sums.Committed), "counters = ledger");
    }

    private static ResourceSize Size(long cpu, long memoryMB) => new(cpu, memoryMB, 10240);

    [Test]
    public async Task A_vm_missing_from_the_inventory_is_marked_gone_and_its_charge_released_once()
    {
        var gone = await LinkVmAsync("web1");
        var kept = await LinkVmAsync("web2", cpu: 1, memoryMB: 1024);
        var at = Clock.GetUtcNow();

        await ReconcileAsync(Inventory(OnHost(kept)));

        var marked = await ReadAsync(gone);
        Assert.That((marked.State, marked.GoneAt), Is.EqualTo((ResourceStates.Gone, (DateTimeOffset?)at)), "the resource stays, marked gone");
        Assert.That(marked.Charge, Is.EqualTo(gone.Charge), "it keeps what it was charged");
        Assert.That((await ReadAsync(kept)).State, Is.EqualTo(ResourceStates.Present));
        Assert.That(await UsedAsync(), Is.EqualTo(new QuotaAmounts(1, 1024, 10240, 1)), "only the VM still there is charged");
        await AssertCountersMatchTheLedgerAsync();
        var change = _published.Single();
        Assert.That(change, Is.EqualTo(new ResourceChanged(TenantId, "vm", gone.ResourceId, ResourceChanges.Gone, Agent, "web1", Size(2, 2048), null, false, at, at)));

        await ReconcileAsync(Inventory(OnHost(kept)));

        Assert.That(await UsedAsync(), Is.EqualTo(new QuotaAmounts(1, 1024, 10240, 1)), "a gone VM is released once");
        Assert.That(_published, Has.Count.EqualTo(1), "and reported once");
        Assert.That((await ReadAsync(gone)).GoneAt, Is.EqualTo(at), "gone since the first inventory without it");
    }

    [Test]
    public async Task An_original_agents_list_counts_as_taken_its_collection_time_before_its_stamp_so_a_vm_built_meanwhile_is_not_gone()
    {
        // The original agent stamps collectedAt after listing: a VM its task built 10 s before the stamp may be missing from the list.
        await _stores.Agents.RecordHeartbeatAsync(new AgentHeartbeat("0.1.0", Agent, Clock.GetUtcNow(), "host-1", ["vm.create"], null, null, 0)
            { Generation = AgentGenerations.Original }, Clock.GetUtcNow(), None);
        var built = await LinkVmAsync("web1", changedAt: Clock.GetUtcNow().AddSeconds(-10));
        var old = await LinkVmAsync("web2", changedAt: Clock.GetUtcNow().AddMinutes(-5));

        await ReconcileAsync(Inventory());

        Assert.That((await ReadAsync(built)).State, Is.EqualTo(ResourceStates.Present), "built while the agent listed its VMs");
        Assert.That((await ReadAsync(old)).State, Is.EqualTo(ResourceStates.Gone), "built long before the list: gone");
        var stored = (await _stores.Agents.GetInventoryAsync(Agent, None))!.Value.Inventory;
        Assert.That(stored.GetProperty("agentCollectedAt").GetString(), Is.Not.EqualTo(stored.GetProperty("collectedAt").GetString()));
    }

    [Test]
    public async Task An_inventory_collected_before_the_last_one_reconciled_is_not_stored()
    {
        await ReconcileAsync(Inventory());
        var later = (await _stores.Agents.GetInventoryAsync(Agent, None))!.Value.Inventory.GetRawText();

        var outcome = await Reconciler.RecordAsync(Agent, InventoryAt(Clock.GetUtcNow().AddMinutes(-1)), Clock.GetUtcNow(), None);

        Assert.That(outcome.SkippedBecause, Does.Contain("reconciled already"));
        Assert.That((await _stores.Agents.GetInventoryAsync(Agent, None))!.Value.Inventory.GetRawText(), Is.EqualTo(later));
    }

    [Test]
    public async Task A_gone_vm_that_shows_up_again_is_present_and_charged_again()
    {
        var vm = await LinkVmAsync("web1");
        await ReconcileAsync(Inventory());
        var at = Clock.GetUtcNow();

        await ReconcileAsync(Inventory(OnHost(vm)));

        var back = await ReadAsync(vm);
        Assert.That((back.State, back.GoneAt, back.Charge, back.Recharged), Is.EqualTo((ResourceStates.Present, (DateTimeOffset?)null, vm.Charge, (ResourceRecharge?)null)));
        Assert.That(await UsedAsync(), Is.EqualTo(vm.Charge));
        await AssertCountersMatchTheLedgerAsync();
        Assert.That(_published.Select(e => e.Change), Is.EqualTo(new[] { ResourceChanges.Gone, ResourceChanges.Returned }));
        Assert.That(_published[1], Is.EqualTo(new ResourceChanged(TenantId, "vm", vm.ResourceId, ResourceChanges.Returned, Agent, "web1", null, Size(2, 2048), false, at, at)));
    }

    [Test]
    public async Task A_vm_resized_out_of_band_is_charged_its_real_size_and_flagged_when_that_goes_over_a_limit()
    {
        var grown = await LinkVmAsync("web1");
        var shrunk = await LinkVmAsync("web2", cpu: 2, memoryMB: 4096);
        var at = Clock.GetUtcNow();

        await ReconcileAsync(Inventory(OnHost(grown, cpu: 6, memoryMB: 8192), OnHost(shrunk, cpu: 1, memoryMB: 1024)));

        var big = await ReadAsync(grown);
        Assert.That(big.Charge, Is.EqualTo(new QuotaAmounts(6, 8192, 10240, 1)));
        Assert.That(big.Recharged, Is.EqualTo(new ResourceRecharge(grown.Charge!, at, OverLimit: true)), "the tenant's limit is 4 vCPUs: flagged, not refused");
        Assert.That((await ReadAsync(shrunk)).Recharged, Is.EqualTo(new ResourceRecharge(shrunk.Charge!, at, OverLimit: false)));
        Assert.That(await UsedAsync(), Is.EqualTo(new QuotaAmounts(7, 9216, 20480, 2)), "the real sizes are charged, over the limit");
        await AssertCountersMatchTheLedgerAsync();
        Assert.That(_published.Where(e => e.ResourceId == grown.ResourceId).Single(),
            Is.EqualTo(new ResourceChanged(TenantId, "vm", grown.ResourceId, ResourceChanges.Resized, Agent, "web1", Size(2, 2048), Size(6, 8192), true, at, at)));

        await ReconcileAsync(Inventory(OnHost(grown, cpu: 6, memoryMB: 8192), OnHost(shrunk, cpu: 1, memoryMB: 1024)));
        Assert.That(_published, Has.Count.EqualTo(2), "a size already charged changes nothing more");
        Assert.That(await UsedAsync(), Is.EqualTo(new QuotaAmounts(7, 9216, 20480, 2)));
    }

    [Test]
    public async Task A_vm_no_resource_links_is_listed_unmanaged_never_charged_and_reported_once_a_second_inventory_shows_it()
    {
        var linked = await LinkVmAsync("web1", tenantId: TenantId);
        var stray = new HostVm(Guid.NewGuid().ToString(), "made-by-hand", 8, 16384);
        var firstSeen = Clock.GetUtcNow();

        await ReconcileAsync(Inventory(OnHost(linked), stray));
        Assert.That(_published, Is.Empty, "a first sighting may be a VM being created: listed, not reported");
        await ReconcileAsync(Inventory(OnHost(linked), stray));
        await ReconcileAsync(Inventory(OnHost(linked), stray));

        var reconciliation = (await _stores.Resources.GetReconciliationAsync(Agent, None))!;
        Assert.That(reconciliation.Unmanaged, Is.EqualTo(new[] { new UnmanagedVm(stray.Id, stray.Name, 8, 16384, firstSeen) }), "listed since it was first seen");
        Assert.That(reconciliation.CollectedAt, Is.EqualTo(firstSeen.AddSeconds(20)), "from the last inventory");
        Assert.That(await UsedAsync(), Is.EqualTo(linked.Charge), "never charged to anyone");
        var change = _published.Single();
        Assert.That(change, Is.EqualTo(new ResourceChanged(ResourceChanges.UnmanagedTenant, "vm", stray.Id, ResourceChanges.Unmanaged, Agent, stray.Name,
            null, null, false, firstSeen.AddSeconds(10), firstSeen.AddSeconds(10))), "reported once, by the second inventory");
        Assert.That(WireTopology.ResourceEventRoutingKey(change.TenantId, change.Kind, change.Change), Is.EqualTo("_unmanaged.vm.unmanaged"));

        await ReconcileAsync(Inventory(OnHost(linked)));
        Assert.That((await _stores.Resources.GetReconciliationAsync(Agent, None))!.Unmanaged, Is.Empty, "gone from the host, gone from the list");
    }

    [Test]
    public async Task A_vm_a_task_changed_after_the_inventory_was_collected_is_left_alone()
    {
        var collectedAt = Clock.GetUtcNow();
        // Created (and resized by an edit) on the host after the agent collected the inventory, whose result came in first.
        var created = await LinkVmAsync("new1", changedAt: collectedAt.AddSeconds(2));
        var edited = await LinkVmAsync("edited", cpu: 3, changedAt: collectedAt.AddSeconds(1));
        Clock.Advance(TimeSpan.FromSeconds(5));

        var outcome = await Reconciler.RecordAsync(Agent, InventoryAt(collectedAt, OnHost(edited, cpu: 2)), Clock.GetUtcNow(), None);

        Assert.That(outcome.Changes, Is.Empty);
        Assert.That(((await ReadAsync(created)).State, (await ReadAsync(edited)).Charge), Is.EqualTo((ResourceStates.Present, edited.Charge)));
        Assert.That(await UsedAsync(), Is.EqualTo(new QuotaAmounts(5, 4096, 20480, 2)));
        Assert.That(_published, Is.Empty);

        await ReconcileAsync(Inventory(OnHost(edited, cpu: 2)));
        Assert.That((await ReadAsync(created)).State, Is.EqualTo(ResourceStates.Gone), "an inventory collected after the task does count");
        Assert.That((await ReadAsync(edited)).Charge!.Cpu, Is.EqualTo(2));
    }

    [Test]
    public async Task A_vm_a_task_in_flight_holds_is_skipped_until_the_task_lets_go()
    {
        var vm = await LinkVmAsync("busy");
        var deleting = Guid.NewGuid();
        Assert.That(await _stores.Resources.TryLockAsync(vm.ResourceId, deleting, None), Is.True);

        await ReconcileAsync(Inventory());

        Assert.That((await ReadAsync(vm)).State, Is.EqualTo(ResourceStates.Present), "its task decides");
        Assert.That(await UsedAsync(), Is.EqualTo(vm.Charge));
        Assert.That(_published, Is.Empty);
        Assert.That(await _stores.Resources.TryLockAsync(vm.ResourceId, Guid.NewGuid(), None), Is.False, "the task still holds it");

        await _stores.Resources.UnlockAsync(deleting, None);
        await ReconcileAsync(Inventory());
        Assert.That((await ReadAsync(vm)).State, Is.EqualTo(ResourceStates.Gone));
        Assert.That(await _stores.Resources.TryLockAsync(vm.ResourceId, Guid.NewGuid(), None), Is.True, "reconciliation keeps no lock");
    }

    [Test]
    public async Task An_inventory_without_a_vm_list_changes_nothing()
    {
        var vm = await LinkVmAsync("web1");
        var failed = JsonSerializer.SerializeToElement(new { schemaVersion = "1.0.0", collectedAt = Clock.GetUtcNow().ToString("O"), error = "ERR_HOST_BUSY" });

        var outcome = await ReconcileAsync(failed);
        var notAnObject = await ReconcileAsync(JsonSerializer.SerializeToElement("broken"));

        Assert.That((outcome.SkippedBecause, notAnObject.SkippedBecause), Is.EqualTo(("the inventory has no VM list", "the inventory has no VM list")));
        Assert.That((await ReadAsync(vm)).State, Is.EqualTo(ResourceStates.Present));
        Assert.That(await UsedAsync(), Is.EqualTo(vm.Charge));
        Assert.That(await _stores.Resources.GetReconciliationAsync(Agent, None), Is.Null);
        Assert.That(_published, Is.Empty);
    }

    [Test]
    public async Task An_inventory_older_than_the_last_one_reconciled_changes_nothing()
    {
        var vm = await LinkVmAsync("web1");
        var older = Clock.GetUtcNow();
        Clock.Advance(TimeSpan.FromSeconds(30));
        await ReconcileAsync(Inventory());

        var outcome = await Reconciler.RecordAsync(Agent, InventoryAt(older, OnHost(vm)), Clock.GetUtcNow(), None);

        Assert.That(outcome.SkippedBecause, Does.Contain("reconciled already"));
        Assert.That((await ReadAsync(vm)).State, Is.EqualTo(ResourceStates.Gone), "a late, older inventory does not bring it back");
        Assert.That(_published.Select(e => e.Change), Is.EqualTo(new[] { ResourceChanges.Gone }));
    }

    [Test]
    public async Task Nothing_of_a_reconciliation_stays_or_is_published_when_its_transaction_rolls_back()
    {
        var vm = await LinkVmAsync("web1");

        Assert.ThrowsAsync<InvalidOperationException>(() => _stores.Transactions.InTransactionAsync<bool>(async () =>
        {
            Assert.That((await Reconciler.RecordAsync(Agent, Inventory(), Clock.GetUtcNow(), None)).Changes, Has.Count.EqualTo(1));
            throw new InvalidOperationException("the message's transaction fails after the reconciliation");
        }, None));

        Assert.That((await ReadAsync(vm)).State, Is.EqualTo(ResourceStates.Present));
        Assert.That(await UsedAsync(), Is.EqualTo(vm.Charge));
        await AssertCountersMatchTheLedgerAsync();
        Assert.That(_published, Is.Empty);
    }
}
