using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.ServiceDefaults;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Actions;

/// <summary>Reads <c>result.vm.guid</c> / <c>result.vm.name</c> of an agent result.</summary>
public static class VmResult
{
    public static bool TryRead(JsonElement? result, out string id, out string name)
    {
        id = name = "";
        if (result is not { ValueKind: JsonValueKind.Object } r || !r.TryGetProperty("vm", out var vm) || vm.ValueKind != JsonValueKind.Object)
            return false;
        if (!vm.TryGetProperty("guid", out var guid) || guid.ValueKind != JsonValueKind.String || !Guid.TryParse(guid.GetString(), out var parsed))
            return false;
        id = parsed.ToString();
        name = vm.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : id;
        return true;
    }
}

/// <summary>Shared rules of the actions on an existing VM.</summary>
public abstract class VmAction : ITaskAction
{
    public abstract string Name { get; }
    public bool TargetsVm => true;
    public virtual bool TargetMayBeGone => false;
    public virtual bool CleansUp(JsonElement data) => false;

    public abstract Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken);

    public virtual string? ClaimedName(JsonElement data) => null;

    public virtual Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract JsonAllowList TenantData { get; }
    public abstract JsonAllowList TenantResult { get; }

    protected static QuotaAmounts ChargeOf(ActionContext context)
        => context.Resource?.Charge ?? QuotaAmounts.Zero;
}

/// <summary>vm.delete: <c>forceStop</c>, <c>deleteDisks</c>; on success the VM is unlinked and its quota released.</summary>
public sealed class VmDeleteAction : VmAction
{
    public override string Name => ActionNames.VmDelete;
    public override bool TargetMayBeGone => true;
    public override bool CleansUp(JsonElement data) => true;
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("forceStop", "deleteDisks");
    /// <summary>Not the disks' paths on the host, nor where they were moved.</summary>
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "deleted", "alreadyGone", "stopMethod"));

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var charge = ChargeOf(context);
        var spec = ActionData.Of<VmDeleteData>(data);
        var enriched = new JsonObject
        {
            ["forceStop"] = spec.ForceStop == true,
            ["deleteDisks"] = spec.DeleteDisks == true,
        };
        // A gone VM's charge was released when it was marked gone.
        var release = context.Resource?.State == ResourceStates.Gone ? QuotaAmounts.Zero : new QuotaAmounts(-charge.Cpu, -charge.MemoryMB, -charge.StorageMB, -1);
        return Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(enriched), release));
    }

    public override async Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken)
    {
        if (context.Task.Target?.RefId is { } vmId)
            await context.Resources.UnlinkAsync(context.Task.TenantId, NormalizeId(vmId), cancellationToken);
    }

    internal static string NormalizeId(string id) => Guid.TryParse(id, out var guid) ? guid.ToString() : id;
}

/// <summary>vm.edit: <c>cpu</c>, <c>ram</c>, <c>name</c>, <c>switch</c>, <c>dynamicMemory</c>; quota delta = new spec minus old.</summary>
public sealed class VmEditAction : VmAction
{
    public override string Name => ActionNames.VmEdit;
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("cpu", "memoryMB", "newName", "switch", "dynamicMemory");
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm",
        JsonAllowList.Of("guid", "name", "cpu", "memoryMB", "dynamicMemory", "switch", "state", "changed", "restarted"));

    public override string? ClaimedName(JsonElement data) => data.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var old = ChargeOf(context);
        var spec = ActionData.Of<VmEditData>(data);
        var enriched = new JsonObject();
        long cpu = old.Cpu, memory = old.MemoryMB;
        if (spec.Cpu is { } newCpu)
            enriched["cpu"] = cpu = newCpu;
        if (spec.Ram is { } newMemory)
            enriched["memoryMB"] = memory = newMemory.MegaBytes;
        if (spec.Name is { } name)
            enriched["newName"] = name;
        if (spec.Switch is { } vswitch)
            enriched["switch"] = vswitch;
        if (spec.DynamicMemory is { } dynamic)
        {
            enriched["dynamicMemory"] = new JsonObject
            {
                ["enabled"] = dynamic.Enabled == true,
                ["min"] = dynamic.Min?.MegaBytes,
                ["max"] = dynamic.Max?.MegaBytes,
            };
        }
        return Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(enriched), new QuotaAmounts(cpu - old.Cpu, memory - old.MemoryMB, 0, 0)));
    }

    public override async Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken)
    {
        var task = context.Task;
        if (task.Target?.RefId is not { } vmId || await context.Resources.GetAsync(task.TenantId, VmDeleteAction.NormalizeId(vmId), cancellationToken) is not { } resource)
            return;
        // The new spec is written as absolute values, so running this twice (a retry) changes nothing more.
        var charge = resource.Charge ?? QuotaAmounts.Zero;
        var spec = task.EnrichedData ?? task.Data;
        var cpu = spec.TryGetProperty("cpu", out var c) && c.TryGetInt64(out var newCpu) ? newCpu : charge.Cpu;
        var memory = spec.TryGetProperty("memoryMB", out var m) && m.TryGetInt64(out var newMemory) ? newMemory : charge.MemoryMB;
        var renamed = ClaimedName(task.Data) ?? resource.Name;
        await context.Resources.UpdateAsync(resource with
        {
            Name = renamed,
            Charge = charge with { Cpu = cpu, MemoryMB = memory },
            AgentChangedAt = context.Result.FinishedAt,
            Recharged = null,
        }, previousName: resource.Name, cancellationToken);
    }
}

/// <summary>vm.power: <c>state</c> (start, stop, turnoff, restart, reset, pause, resume, save) and <c>force</c>.</summary>
public sealed class VmPowerAction : VmAction
{
    public override string Name => ActionNames.VmPower;
    public override bool CleansUp(JsonElement data)
        => data.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String && VmPowerData.Stopping.Contains(state.GetString()!);
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("state", "force");
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "state", "previousState", "changed", "stopMethod"));

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var spec = ActionData.Of<VmPowerData>(data);
        return Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(new { state = spec.State, force = spec.Force == true }), QuotaAmounts.Zero));
    }
}

/// <summary>inventory.refresh: the agent's canonical inventory as the task result; the registry is updated with it and its VMs reconciled.</summary>
public sealed class InventoryRefreshAction(InventoryReconciler reconciler) : ITaskAction
{
    public string Name => ActionNames.InventoryRefresh;
    public string TargetKind => TargetKinds.Host;
    public bool AdminOnly => true;

    public Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
        => Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(new { }), QuotaAmounts.Zero));

    public Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken)
        => context.Result.Result is { ValueKind: JsonValueKind.Object } inventory
            ? reconciler.RecordAsync(context.Result.AgentId, inventory, context.Result.StartedAt ?? context.Result.FinishedAt, cancellationToken)
            : Task.CompletedTask;
}
