using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
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

    protected abstract IReadOnlySet<string> Fields { get; }

    public void Validate(JsonElement data, FieldErrors errors)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            errors.Add("data", "must be an object");
            return;
        }
        errors.RejectUnknown(data, Fields, "data.");
        ValidateFields(data, errors);
    }

    protected abstract void ValidateFields(JsonElement data, FieldErrors errors);

    public abstract Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken);

    public virtual string? ClaimedName(JsonElement data) => null;

    public virtual Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract JsonAllowList TenantData { get; }
    public abstract JsonAllowList TenantResult { get; }

    protected static void Boolean(JsonElement data, string field, FieldErrors errors)
    {
        if (data.TryGetProperty(field, out var value) && value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            errors.Add("data." + field, "must be true or false");
    }

    protected static QuotaAmounts ChargeOf(ActionContext context)
        => context.Resource?.Charge ?? QuotaAmounts.Zero;
}

/// <summary>vm.delete: <c>forceStop</c>, <c>deleteDisks</c>; on success the VM is unlinked and its quota released.</summary>
public sealed class VmDeleteAction : VmAction
{
    private static readonly HashSet<string> Allowed = ["forceStop", "deleteDisks"];
    public override string Name => ActionNames.VmDelete;
    public override bool TargetMayBeGone => true;
    public override bool CleansUp(JsonElement data) => true;
    protected override IReadOnlySet<string> Fields => Allowed;
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("forceStop", "deleteDisks");
    /// <summary>Not the disks' paths on the host, nor where they were moved.</summary>
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "deleted", "alreadyGone", "stopMethod"));

    protected override void ValidateFields(JsonElement data, FieldErrors errors)
    {
        Boolean(data, "forceStop", errors);
        Boolean(data, "deleteDisks", errors);
    }

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var charge = ChargeOf(context);
        var enriched = new JsonObject
        {
            ["forceStop"] = data.TryGetProperty("forceStop", out var f) && f.ValueKind == JsonValueKind.True,
            ["deleteDisks"] = data.TryGetProperty("deleteDisks", out var d) && d.ValueKind == JsonValueKind.True,
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
    private static readonly HashSet<string> Allowed = ["cpu", "ram", "name", "switch", "dynamicMemory"];
    private static readonly HashSet<string> DynamicFields = ["enabled", "min", "max"];
    public override string Name => ActionNames.VmEdit;
    protected override IReadOnlySet<string> Fields => Allowed;
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("cpu", "memoryMB", "newName", "switch", "dynamicMemory");
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm",
        JsonAllowList.Of("guid", "name", "cpu", "memoryMB", "dynamicMemory", "switch", "state", "changed", "restarted"));

    public override string? ClaimedName(JsonElement data) => data.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;

    protected override void ValidateFields(JsonElement data, FieldErrors errors)
    {
        if (!data.EnumerateObject().Any())
            errors.Add("data", "names at least one change: cpu, ram, name, switch or dynamicMemory");
        var spec = new VmCreateAction();
        var probe = new FieldErrors();
        // The create rules for the fields both actions share; a name is validated as a VM name.
        var shared = new JsonObject { ["name"] = data.TryGetProperty("name", out var n) ? JsonNode.Parse(n.GetRawText()) : "placeholder" };
        foreach (var field in new[] { "cpu", "ram", "switch" })
        {
            if (data.TryGetProperty(field, out var value))
                shared[field] = JsonNode.Parse(value.GetRawText());
        }
        spec.Validate(JsonSerializer.SerializeToElement(shared), errors);
        if (data.TryGetProperty("dynamicMemory", out var dynamic))
        {
            if (dynamic.ValueKind != JsonValueKind.Object)
            {
                errors.Add("data.dynamicMemory", "must be an object {enabled, min, max}");
                return;
            }
            errors.RejectUnknown(dynamic, DynamicFields, "data.dynamicMemory.");
            Boolean(dynamic, "enabled", errors);
            long? Mb(string field)
            {
                if (!dynamic.TryGetProperty(field, out var v))
                    return null;
                var mb = VmCreateAction.ParseMemoryMB(v);
                if (mb is null or < VmCreateAction.MinMemoryMB or > VmCreateAction.MaxMemoryMB)
                    errors.Add("data.dynamicMemory." + field, "must be from 512 MB to 1 TB");
                return mb;
            }
            if (Mb("min") is { } min && Mb("max") is { } max && min > max)
                errors.Add("data.dynamicMemory", "min must not exceed max");
        }
    }

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var old = ChargeOf(context);
        var enriched = new JsonObject();
        long cpu = old.Cpu, memory = old.MemoryMB;
        if (data.TryGetProperty("cpu", out var c) && VmCreateAction.IsInteger(c, out var newCpu))
            enriched["cpu"] = cpu = newCpu;
        if (data.TryGetProperty("ram", out var r) && VmCreateAction.ParseMemoryMB(r) is { } newMemory)
            enriched["memoryMB"] = memory = newMemory;
        if (ClaimedName(data) is { } name)
            enriched["newName"] = name;
        if (data.TryGetProperty("switch", out var s) && s.ValueKind == JsonValueKind.String)
            enriched["switch"] = s.GetString();
        if (data.TryGetProperty("dynamicMemory", out var d))
        {
            enriched["dynamicMemory"] = new JsonObject
            {
                ["enabled"] = d.TryGetProperty("enabled", out var e) && e.ValueKind == JsonValueKind.True,
                ["min"] = d.TryGetProperty("min", out var min) ? VmCreateAction.ParseMemoryMB(min) : null,
                ["max"] = d.TryGetProperty("max", out var max) ? VmCreateAction.ParseMemoryMB(max) : null,
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
        var cpu = spec.TryGetProperty("cpu", out var c) && VmCreateAction.IsInteger(c, out var newCpu) ? newCpu : charge.Cpu;
        var memory = spec.TryGetProperty("memoryMB", out var m) && VmCreateAction.IsInteger(m, out var newMemory) ? newMemory : charge.MemoryMB;
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
    public static readonly string[] States = ["start", "stop", "turnoff", "restart", "reset", "pause", "resume", "save"];
    private static readonly HashSet<string> Stopping = ["stop", "turnoff", "save", "pause"];
    private static readonly HashSet<string> Allowed = ["state", "force"];
    public override string Name => ActionNames.VmPower;
    public override bool CleansUp(JsonElement data)
        => data.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String && Stopping.Contains(state.GetString()!);
    protected override IReadOnlySet<string> Fields => Allowed;
    public override JsonAllowList TenantData { get; } = JsonAllowList.Of("state", "force");
    public override JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "state", "previousState", "changed", "stopMethod"));

    protected override void ValidateFields(JsonElement data, FieldErrors errors)
    {
        if (!data.TryGetProperty("state", out var state) || state.ValueKind != JsonValueKind.String || !States.Contains(state.GetString()))
            errors.Add("data.state", "must be one of " + string.Join(", ", States));
        Boolean(data, "force", errors);
    }

    public override Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
        => Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(new
        {
            state = data.GetProperty("state").GetString(),
            force = data.TryGetProperty("force", out var f) && f.ValueKind == JsonValueKind.True,
        }), QuotaAmounts.Zero));
}

/// <summary>inventory.refresh: the agent's canonical inventory as the task result; the registry is updated with it and its VMs reconciled.</summary>
public sealed class InventoryRefreshAction(InventoryReconciler reconciler) : ITaskAction
{
    public string Name => ActionNames.InventoryRefresh;
    public string TargetKind => TargetKinds.Host;
    public bool AdminOnly => true;

    public void Validate(JsonElement data, FieldErrors errors)
    {
        if (data.ValueKind != JsonValueKind.Object || data.EnumerateObject().Any())
            errors.Add("data", "must be an empty object");
    }

    public Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
        => Task.FromResult(new Enrichment(JsonSerializer.SerializeToElement(new { }), QuotaAmounts.Zero));

    public Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken)
        => context.Result.Result is { ValueKind: JsonValueKind.Object } inventory
            ? reconciler.RecordAsync(context.Result.AgentId, inventory, context.Result.StartedAt ?? context.Result.FinishedAt, cancellationToken)
            : Task.CompletedTask;
}
