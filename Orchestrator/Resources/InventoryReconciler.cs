using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>What one reconciliation did: nothing (and why), or the changes it made (published after its commit).</summary>
public sealed record ReconciliationOutcome(string? SkippedBecause, IReadOnlyList<ResourceChanged> Changes)
{
    public static ReconciliationOutcome Skipped(string reason) => new(reason, []);
}

/// <summary>
/// The reconciliation rules, once for every store: an agent's inventory (periodic, or an inventory.refresh result) is compared
/// with the VMs linked on that agent, of every tenant, in one store transaction. A linked VM the host no longer has is marked
/// gone and its charge released; one that is there again is present and charged again; one whose CPU or memory differ from its
/// charge is charged its real size (flagged when over a limit, never refused: it exists). Every quota change is a correction
/// in <see cref="QuotaLedger"/>, so counters and ledger agree. A VM that no resource links is listed as unmanaged, never
/// charged. Left alone: a VM a task in flight holds (its lock), one a task changed after the inventory was collected (agent
/// clock against agent clock), and everything when the inventory has no VM list or is older than the last one reconciled.
/// </summary>
public sealed class InventoryReconciler(
    IAgentStore agents,
    IResourceStore resources,
    QuotaLedger quotas,
    IStoreTransactions transactions,
    IResourceEventPublisher events,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<InventoryReconciler> logger)
{
    private const string Reason = "reconcile";

    /// <summary>
    /// Records the agent's inventory in its registry and reconciles it, in one transaction; one collected before the last one
    /// reconciled (a late message) is neither.
    /// </summary>
    /// <param name="collectedAt">when the agent collected it, if the inventory's own <c>collectedAt</c> cannot be read</param>
    public Task<ReconciliationOutcome> RecordAsync(string agentId, JsonElement inventory, DateTimeOffset collectedAt, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            if (await agents.GetAsync(agentId, cancellationToken) is { } agent && AgentGenerations.IsOriginal(agent))
                inventory = OriginalInventory.AsListed(inventory, options.Value.Agents.Original.InventoryCollectionTime);
            if (inventory.ValueKind == JsonValueKind.Object && ReadCollectedAt(inventory) is { } at
                && await resources.GetReconciliationAsync(agentId, cancellationToken) is { } previous
                && at < previous.CollectedAt)
                return ReconciliationOutcome.Skipped($"an inventory collected at {previous.CollectedAt:O} was reconciled already");
            await agents.RecordInventoryAsync(agentId, inventory, clock.GetUtcNow(), cancellationToken);
            return await ReconcileAsync(agentId, inventory, collectedAt, cancellationToken);
        }, cancellationToken);

    public Task<ReconciliationOutcome> ReconcileAsync(string agentId, JsonElement inventory, DateTimeOffset collectedAt, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            if (!TryReadVms(inventory, out var onHost))
                return ReconciliationOutcome.Skipped("the inventory has no VM list");
            collectedAt = ReadCollectedAt(inventory) ?? collectedAt;
            var previous = await resources.GetReconciliationAsync(agentId, cancellationToken);
            if (previous is not null && previous.CollectedAt >= collectedAt)
                return ReconciliationOutcome.Skipped($"an inventory collected at {previous.CollectedAt:O} was reconciled already");

            var now = clock.GetUtcNow();
            var linked = await resources.ListOnAgentAsync(agentId, cancellationToken);
            var changes = new List<ResourceChanged>();
            // Taken for this transaction only, on each VM it changes: a VM a task holds is skipped, and a task cannot take it meanwhile.
            var lockId = Guid.NewGuid();
            foreach (var resource in linked.Where(r => r.Kind == TargetKinds.Vm))
            {
                if (resource.AgentChangedAt is { } changedAt && changedAt >= collectedAt)
                    continue;
                onHost.TryGetValue(Normalize(resource.ResourceId), out var vm);
                if (Decide(resource, vm) is not { } change)
                    continue;
                if (!await resources.TryLockAsync(resource.ResourceId, lockId, cancellationToken))
                    continue;
                changes.Add(await ApplyAsync(resource, vm, change, collectedAt, now, cancellationToken));
            }
            await resources.UnlockAsync(lockId, cancellationToken);

            var linkedIds = linked.Select(r => Normalize(r.ResourceId)).ToHashSet(StringComparer.Ordinal);
            var seenBefore = previous?.Unmanaged.ToDictionary(v => v.VmId, StringComparer.Ordinal) ?? [];
            var unmanaged = onHost.Values.Where(vm => !linkedIds.Contains(vm.Id))
                .Select(vm => new UnmanagedVm(vm.Id, vm.Name, vm.Cpu, vm.MemoryMB, seenBefore.TryGetValue(vm.Id, out var known) ? known.FirstSeenAt : now))
                .OrderBy(vm => vm.Name, StringComparer.Ordinal).ToList();
            // Reported when a second inventory in a row shows it: on a first sighting it may be a VM being created, not linked yet.
            changes.AddRange(unmanaged.Where(vm => seenBefore.TryGetValue(vm.VmId, out var known)
                // First seen by the previous reconciliation (the stores keep milliseconds).
                && known.FirstSeenAt >= previous!.ReconciledAt.AddMilliseconds(-1)).Select(vm => new ResourceChanged(ResourceChanges.UnmanagedTenant,
                TargetKinds.Vm, vm.VmId, ResourceChanges.Unmanaged, agentId, vm.Name, null, null, false, collectedAt, now)));
            await resources.SaveReconciliationAsync(new AgentReconciliation(agentId, collectedAt, now, unmanaged), cancellationToken);

            foreach (var change in changes)
                transactions.AfterCommit(() => PublishAsync(change));
            return new ReconciliationOutcome(null, changes);
        }, cancellationToken);

    private static string? Decide(TenantResource resource, HostVm? vm)
    {
        var gone = resource.State == ResourceStates.Gone;
        if (vm is null)
            return gone ? null : ResourceChanges.Gone;
        if (gone)
            return ResourceChanges.Returned;
        return resource.Charge is { } charge && RealSize(charge, vm) != charge ? ResourceChanges.Resized : null;
    }

    private async Task<ResourceChanged> ApplyAsync(TenantResource resource, HostVm? vm, string change, DateTimeOffset collectedAt, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var charge = resource.Charge ?? QuotaAmounts.Zero;
        var real = vm is null ? charge : RealSize(charge, vm);
        TenantResource updated;
        QuotaAmounts delta;
        QuotaAmounts? before = charge, after = real;
        switch (change)
        {
            case ResourceChanges.Gone:
                updated = resource with { State = ResourceStates.Gone, GoneAt = now, Recharged = null };
                delta = new QuotaAmounts(-charge.Cpu, -charge.MemoryMB, -charge.StorageMB, -1);
                after = null;
                break;
            case ResourceChanges.Returned:
                updated = resource with { State = ResourceStates.Present, GoneAt = null, Charge = real };
                delta = real with { VmCount = 1 };
                before = null;
                break;
            default:
                updated = resource with { Charge = real };
                delta = new QuotaAmounts(real.Cpu - charge.Cpu, real.MemoryMB - charge.MemoryMB, 0, 0);
                break;
        }
        var overLimit = await quotas.CorrectAsync(resource.TenantId, resource.AgentId, delta, Reason, cancellationToken);
        if (change != ResourceChanges.Gone && real != charge)
            updated = updated with { Recharged = new ResourceRecharge(charge, now, overLimit) };
        await resources.UpdateAsync(updated, resource.Name, cancellationToken);
        logger.LogWarning("VM {ResourceId} ({Name}) of tenant {TenantId} on agent {AgentId}: {Change} out of band (charged {Before} -> {After}, over limit: {OverLimit})",
            resource.ResourceId, resource.Name, resource.TenantId, resource.AgentId, change, before, after, overLimit);
        return new ResourceChanged(resource.TenantId, resource.Kind, resource.ResourceId, change, resource.AgentId, resource.Name,
            Size(before), Size(after), overLimit, collectedAt, now);
    }

    /// <summary>The charge with the host's CPU and memory where the inventory reports them (storage is not compared: disks grow).</summary>
    private static QuotaAmounts RealSize(QuotaAmounts charge, HostVm vm)
        => charge with { Cpu = vm.Cpu ?? charge.Cpu, MemoryMB = vm.MemoryMB ?? charge.MemoryMB };

    private static ResourceSize? Size(QuotaAmounts? amounts) => amounts is { } a ? new ResourceSize(a.Cpu, a.MemoryMB, a.StorageMB) : null;

    private async Task PublishAsync(ResourceChanged change)
    {
        try
        {
            await events.PublishAsync(change);
        }
        catch (Exception ex)
        {
            // The change is stored; only its notice is lost (the resource and recount's report show it).
            logger.LogWarning("The {Change} event of VM {ResourceId} could not be published ({Message})", change.Change, change.ResourceId, ex.Message);
        }
    }

    private sealed record HostVm(string Id, string Name, long? Cpu, long? MemoryMB);

    private static string Normalize(string id) => Guid.TryParse(id, out var guid) ? guid.ToString() : id;

    /// <summary>The VMs of a canonical inventory (<c>vms[{id, name, cpu{vcpus}, memoryMb}]</c>) by id; false when it has no VM list.</summary>
    private static bool TryReadVms(JsonElement inventory, out Dictionary<string, HostVm> vms)
    {
        vms = new Dictionary<string, HostVm>(StringComparer.Ordinal);
        if (inventory.ValueKind != JsonValueKind.Object || !inventory.TryGetProperty("vms", out var list) || list.ValueKind != JsonValueKind.Array)
            return false;
        foreach (var vm in list.EnumerateArray())
        {
            if (vm.ValueKind != JsonValueKind.Object || !vm.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                continue;
            var name = vm.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : id.GetString()!;
            long? cpu = vm.TryGetProperty("cpu", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty("vcpus", out var v) &&
                           v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var vcpus)
                ? vcpus : null;
            long? memory = vm.TryGetProperty("memoryMb", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt64(out var mb) ? mb : null;
            var key = Normalize(id.GetString()!);
            vms[key] = new HostVm(key, name, cpu, memory);
        }
        return true;
    }

    private static DateTimeOffset? ReadCollectedAt(JsonElement inventory)
        => inventory.TryGetProperty("collectedAt", out var at) && at.ValueKind == JsonValueKind.String &&
           DateTimeOffset.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
}
