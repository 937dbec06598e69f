using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IResourceStore"/>: tenant resources, VM names and single-flight VM locks.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class ResourceStoreContractTests(string family) : StoreContract(family)
{
    private TenantResource Vm(string tenant, string name, Guid taskId, string? imageId = null, string? id = null)
        => new(id ?? Guid.NewGuid().ToString(), tenant, "vm", "agent-1", name, taskId, false, Clock.GetUtcNow(), new QuotaAmounts(2, 2048, 10240, 1), imageId);

    [Test]
    public async Task A_name_is_reserved_per_tenant_whatever_its_case_and_the_same_task_may_reserve_it_again()
    {
        var holder = Guid.NewGuid();
        var other = Guid.NewGuid();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "Web1", holder, None), Is.True, "first reservation");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", holder, None), Is.True, "the same task again (a redelivery)");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "WEB1", other, None), Is.False, "another task, another case");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme-2", "web1", other, None), Is.True, "another tenant");
            Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web2", other, None), Is.True, "another name");
        }
    }

    [Test]
    public async Task A_name_is_released_only_by_the_task_that_holds_it()
    {
        var holder = Guid.NewGuid();
        var other = Guid.NewGuid();
        await _stores.Resources.TryReserveNameAsync("acme", "web1", holder, None);
        await _stores.Resources.TryReserveNameAsync("acme-2", "web1", other, None);

        await _stores.Resources.ReleaseNameAsync("acme", "web1", other, None);
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", Guid.NewGuid(), None), Is.False, "another task cannot release it");

        await _stores.Resources.ReleaseNameAsync("acme", "WEB1", holder, None);
        await _stores.Resources.ReleaseNameAsync("acme", "WEB1", holder, None);

        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", Guid.NewGuid(), None), Is.True, "released by its holder");
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme-2", "web1", Guid.NewGuid(), None), Is.False, "the other tenant's name stays");
    }

    [Test]
    public async Task A_vm_lock_is_single_flight_until_its_task_unlocks()
    {
        var holder = Guid.NewGuid();
        var other = Guid.NewGuid();

        Assert.That(await _stores.Resources.TryLockAsync("vm-1", holder, None), Is.True);
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", holder, None), Is.True, "the same task again");
        Assert.That(await _stores.Resources.TryLockAsync("vm-2", holder, None), Is.True, "a task may lock two VMs");
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", other, None), Is.False, "another task");

        await _stores.Resources.UnlockAsync(other, None);
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", other, None), Is.False, "another task's unlock frees nothing");

        await _stores.Resources.UnlockAsync(holder, None);
        await _stores.Resources.UnlockAsync(holder, None);
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", other, None), Is.True, "unlock frees the VM");
        Assert.That(await _stores.Resources.TryLockAsync("vm-2", other, None), Is.True, "and every VM the task held");
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", holder, None), Is.False, "now the other task holds it");
    }

    [Test]
    public async Task Of_tasks_racing_for_one_name_or_one_vm_exactly_one_wins()
    {
        var tasks = Enumerable.Range(0, 12).Select(_ => Guid.NewGuid()).ToList();

        var names = await Task.WhenAll(tasks.Select(t => Task.Run(() => _stores.Resources.TryReserveNameAsync("acme", "web1", t, None))));
        var locks = await Task.WhenAll(tasks.Select(t => Task.Run(() => _stores.Resources.TryLockAsync("vm-1", t, None))));

        Assert.That(names.Count(won => won), Is.EqualTo(1), "name");
        Assert.That(locks.Count(won => won), Is.EqualTo(1), "lock");
        var nameHolder = tasks[Array.IndexOf(names, true)];
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", nameHolder, None), Is.True, "the winner holds the name");
    }

    [Test]
    public async Task A_linked_resource_round_trips_is_linked_once_and_keeps_its_name_reserved()
    {
        var taskId = Guid.NewGuid();
        var vm = Vm("acme", "web1", taskId, "img-ubuntu-22");
        await _stores.Resources.TryReserveNameAsync("acme", "web1", taskId, None);

        await _stores.Resources.LinkAsync(vm, None);
        await _stores.Resources.LinkAsync(vm with { Name = "changed", AgentId = "agent-9" }, None);

        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(vm), "linked once: a second link changes nothing");
        Assert.That(await _stores.Resources.GetAsync("acme-2", vm.ResourceId, None), Is.Null, "not another tenant's");
        Assert.That(await _stores.Resources.ListAsync("acme", None), Is.EqualTo(new[] { vm }));
        Assert.That(await _stores.Resources.ListAsync("acme-2", None), Is.Empty);
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "WEB1", Guid.NewGuid(), None), Is.False, "the VM keeps its name");
    }

    [Test]
    public async Task Linking_reserves_the_name_when_free_and_keeps_whoever_holds_it_otherwise()
    {
        var late = Guid.NewGuid();
        var newer = Guid.NewGuid();
        await _stores.Resources.TryReserveNameAsync("acme", "db1", newer, None);

        await _stores.Resources.LinkAsync(Vm("acme", "web1", late), None);
        await _stores.Resources.LinkAsync(Vm("acme", "db1", late), None);

        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", Guid.NewGuid(), None), Is.False, "a free name is reserved by the link");
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "db1", newer, None), Is.True, "a taken name keeps its holder");
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "db1", late, None), Is.False);
    }

    [Test]
    public async Task List_returns_a_tenants_resources_oldest_first()
    {
        var first = Vm("acme", "b", Guid.NewGuid());
        Clock.Advance(TimeSpan.FromMinutes(1));
        var second = Vm("acme", "a", Guid.NewGuid()) with { Late = true, Charge = null, ImageId = null, Kind = "disk" };
        Clock.Advance(TimeSpan.FromMinutes(1));
        var third = Vm("acme", "c", Guid.NewGuid());
        foreach (var resource in new[] { third, first, second, Vm("acme-2", "x", Guid.NewGuid()) })
            await _stores.Resources.LinkAsync(resource, None);

        Assert.That(await _stores.Resources.ListAsync("acme", None), Is.EqualTo(new[] { first, second, third }));
    }

    [Test]
    public async Task Unlink_removes_the_resource_and_frees_its_name()
    {
        var vm = Vm("acme", "web1", Guid.NewGuid());
        var kept = Vm("acme", "web2", Guid.NewGuid());
        await _stores.Resources.LinkAsync(vm, None);
        await _stores.Resources.LinkAsync(kept, None);

        await _stores.Resources.UnlinkAsync("acme-2", vm.ResourceId, None);
        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.Not.Null, "another tenant cannot unlink it");

        await _stores.Resources.UnlinkAsync("acme", vm.ResourceId, None);
        await _stores.Resources.UnlinkAsync("acme", vm.ResourceId, None);

        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.Null);
        Assert.That(await _stores.Resources.ListAsync("acme", None), Is.EqualTo(new[] { kept }));
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "WEB1", Guid.NewGuid(), None), Is.True, "its name is free");
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web2", Guid.NewGuid(), None), Is.False, "the other VM's is not");
    }

    [Test]
    public async Task Update_stores_the_new_name_and_charge_and_a_rename_frees_the_old_name()
    {
        var taskId = Guid.NewGuid();
        var vm = Vm("acme", "web1", taskId);
        await _stores.Resources.LinkAsync(vm, None);
        var renamed = vm with { Name = "web2", Charge = new QuotaAmounts(4, 8192, 20480, 1) };

        await _stores.Resources.UpdateAsync(renamed, "web1", None);

        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(renamed));
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", Guid.NewGuid(), None), Is.True, "the old name is free");
    }

    [Test]
    public async Task Update_without_a_rename_keeps_the_name_reserved_whatever_its_case()
    {
        var vm = Vm("acme", "web1", Guid.NewGuid());
        await _stores.Resources.LinkAsync(vm, None);

        await _stores.Resources.UpdateAsync(vm with { Name = "Web1", Charge = null }, "web1", None);

        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(vm with { Name = "Web1", Charge = null }));
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "WEB1", Guid.NewGuid(), None), Is.False, "still reserved");
    }

    [Test]
    public async Task Count_built_from_counts_linked_vms_of_every_tenant_per_image()
    {
        await _stores.Resources.LinkAsync(Vm("acme", "a", Guid.NewGuid(), "img-1"), None);
        await _stores.Resources.LinkAsync(Vm("acme-2", "a", Guid.NewGuid(), "img-1"), None);
        var unlinked = Vm("acme", "b", Guid.NewGuid(), "img-1");
        await _stores.Resources.LinkAsync(unlinked, None);
        await _stores.Resources.LinkAsync(Vm("acme", "c", Guid.NewGuid(), "img-2"), None);
        await _stores.Resources.LinkAsync(Vm("acme", "d", Guid.NewGuid()), None);
        await _stores.Resources.UnlinkAsync("acme", unlinked.ResourceId, None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Resources.CountBuiltFromAsync("img-1", None), Is.EqualTo(2));
            Assert.That(await _stores.Resources.CountBuiltFromAsync("img-2", None), Is.EqualTo(1));
            Assert.That(await _stores.Resources.CountBuiltFromAsync("img-3", None), Is.Zero);
        }
    }

    [Test]
    public async Task List_on_agent_returns_every_tenants_resources_on_that_agent_only()
    {
        var first = Vm("acme", "a", Guid.NewGuid());
        Clock.Advance(TimeSpan.FromMinutes(1));
        var second = Vm("acme-2", "b", Guid.NewGuid());
        var elsewhere = Vm("acme", "c", Guid.NewGuid()) with { AgentId = "agent-2" };
        foreach (var resource in new[] { second, elsewhere, first })
            await _stores.Resources.LinkAsync(resource, None);

        Assert.That(await _stores.Resources.ListOnAgentAsync("agent-1", None), Is.EqualTo(new[] { first, second }));
        Assert.That(await _stores.Resources.ListOnAgentAsync("agent-2", None), Is.EqualTo(new[] { elsewhere }));
        Assert.That(await _stores.Resources.ListOnAgentAsync("agent-3", None), Is.Empty);
    }

    [Test]
    public async Task A_link_keeps_its_agent_change_time_and_update_stores_gone_and_recharged_states()
    {
        var changedAt = Clock.GetUtcNow().AddSeconds(-3);
        var vm = Vm("acme", "web1", Guid.NewGuid()) with { AgentChangedAt = changedAt };
        await _stores.Resources.LinkAsync(vm, None);
        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(vm));
        Assert.That(vm.State, Is.EqualTo(ResourceStates.Present), "a linked VM is present");

        var gone = vm with { State = ResourceStates.Gone, GoneAt = Clock.GetUtcNow() };
        await _stores.Resources.UpdateAsync(gone, vm.Name, None);
        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(gone));

        var recharged = gone with
        {
            State = ResourceStates.Present, GoneAt = null, Charge = new QuotaAmounts(4, 4096, 10240, 1),
            Recharged = new ResourceRecharge(new QuotaAmounts(2, 2048, 10240, 1), Clock.GetUtcNow(), OverLimit: true),
            AgentChangedAt = changedAt.AddMinutes(1),
        };
        await _stores.Resources.UpdateAsync(recharged, vm.Name, None);
        Assert.That(await _stores.Resources.GetAsync("acme", vm.ResourceId, None), Is.EqualTo(recharged));
        Assert.That(await _stores.Resources.ListOnAgentAsync("agent-1", None), Is.EqualTo(new[] { recharged }));
        Assert.That(await _stores.Resources.TryReserveNameAsync("acme", "web1", Guid.NewGuid(), None), Is.False, "the VM keeps its name");
    }

    [Test]
    public async Task An_agents_reconciliation_round_trips_and_the_next_one_replaces_it()
    {
        Assert.That(await _stores.Resources.GetReconciliationAsync("agent-1", None), Is.Null, "none before the first");
        var first = new AgentReconciliation("agent-1", Clock.GetUtcNow().AddSeconds(-2), Clock.GetUtcNow(),
            [new UnmanagedVm(Guid.NewGuid().ToString(), "stray", 2, 2048, Clock.GetUtcNow()), new UnmanagedVm(Guid.NewGuid().ToString(), "odd", null, null, Clock.GetUtcNow())]);
        await _stores.Resources.SaveReconciliationAsync(first, None);
        await _stores.Resources.SaveReconciliationAsync(first with { AgentId = "agent-2", Unmanaged = [] }, None);

        var read = await _stores.Resources.GetReconciliationAsync("agent-1", None);
        Assert.That(read! with { Unmanaged = [] }, Is.EqualTo(first with { Unmanaged = [] }));
        Assert.That(read.Unmanaged, Is.EqualTo(first.Unmanaged));

        Clock.Advance(TimeSpan.FromMinutes(1));
        var next = new AgentReconciliation("agent-1", Clock.GetUtcNow().AddSeconds(-1), Clock.GetUtcNow(), []);
        await _stores.Resources.SaveReconciliationAsync(next, None);
        var replaced = await _stores.Resources.GetReconciliationAsync("agent-1", None);
        Assert.That((replaced!.CollectedAt, replaced.ReconciledAt), Is.EqualTo((next.CollectedAt, next.ReconciledAt)));
        Assert.That(replaced.Unmanaged, Is.Empty);
        Assert.That((await _stores.Resources.GetReconciliationAsync("agent-2", None))!.Unmanaged, Is.Empty, "another agent's is its own");
    }
}
