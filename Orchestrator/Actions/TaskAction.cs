using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Actions;

/// <summary>Field errors keyed by JSON path (<c>data.cpu</c>), as in RFC 9457 validation problems.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public bool Contains(string field) => _errors.ContainsKey(field);

    /// <summary>An error for each member of <paramref name="body"/> outside <paramref name="allowed"/>.</summary>
    public void RejectUnknown(JsonElement body, IReadOnlySet<string> allowed, string prefix = "")
    {
        foreach (var property in body.EnumerateObject())
        {
            if (!allowed.Contains(property.Name))
                Add(prefix + property.Name, "unknown field");
        }
    }

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
            _errors[field] = list = [];
        list.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(x => x.Key, x => x.Value.ToArray());
}

/// <summary>The outcome of enrichment: the data the agent receives and the quota the task reserves.</summary>
public sealed record Enrichment(JsonElement Data, QuotaAmounts QuotaDeltas);

/// <summary>A step that refuses a task; becomes the saga's rejection (problem details with <see cref="Code"/>).</summary>
public sealed class TaskRejectedException(string code, string message, object? details = null) : Exception(message)
{
    public string Code { get; } = code;
    public object? Details { get; } = details;
}

public static class TargetKinds
{
    public const string Vm = "vm";
    public const string Host = "host";
}

/// <summary>What an action's steps may look at: the image catalog and, for actions on an existing VM, its resource.</summary>
public sealed record ActionContext(IImageStore Images, TenantResource? Resource);

/// <summary>What a success may change besides quota: links, unlinks, renames, the agent registry.</summary>
public sealed record SuccessContext(TaskState Task, AgentTaskResult Result, bool Late, IResourceStore Resources, IAgentStore Agents, DateTimeOffset Now);

/// <summary>One task type: its schema, target rules, needs on a host, enrichment, quota and result handling.</summary>
public interface ITaskAction
{
    string Name { get; }

    /// <summary>The agent capability an elected agent must advertise.</summary>
    string Capability => Name;

    /// <summary>Acts on an existing VM: needs <c>target.refId</c>, runs on the agent hosting it, one such task per VM at a time.</summary>
    bool TargetsVm => false;

    /// <summary>The only <c>target.kind</c> this action takes (and what an absent kind means).</summary>
    string TargetKind => TargetKinds.Vm;

    /// <summary>Acts on a host as a whole: its results describe the host and every tenant on it, so only admins submit it or read them.</summary>
    bool AdminOnly => false;

    /// <summary>May act on a VM that reconciliation marked gone (others are refused <c>ERR_RESOURCE_GONE</c>).</summary>
    bool TargetMayBeGone => false;

    /// <summary>Stops or removes what a tenant runs, never starts or adds: an admin may still run it on a disabled tenant's VMs.</summary>
    bool CleansUp(JsonElement data) => false;

    /// <summary>The record <c>data</c> is read into: its members and rules are the action's schema.</summary>
    Type DataType => ActionDataTypes.Of(Name);

    /// <summary>Schema pre-validation of <c>data</c> (synchronous, before the saga starts): every problem at once.</summary>
    void Validate(JsonElement data, FieldErrors errors) => ActionData.Read(DataType, data, errors.Add);

    /// <summary>What the task needs free on the elected host.</summary>
    Task<QuotaAmounts> GetRequirementAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken) => Task.FromResult(QuotaAmounts.Zero);

    /// <summary>Applies defaults and lookups, computes the quota deltas; throws <see cref="TaskRejectedException"/> to refuse.</summary>
    Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken);

    /// <summary>The name this task claims in the tenant's VM namespace, if any.</summary>
    string? ClaimedName(JsonElement data) => null;

    Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>What a tenant may read of the task's data (as enriched); nothing unless the action names it.</summary>
    Api.JsonAllowList TenantData => Api.JsonAllowList.Nothing;

    /// <summary>What a tenant may read of the agent's result; nothing unless the action names it.</summary>
    Api.JsonAllowList TenantResult => Api.JsonAllowList.Nothing;
}

public sealed class TaskActionCatalog(IEnumerable<ITaskAction> actions)
{
    private readonly Dictionary<string, ITaskAction> _actions = actions.ToDictionary(a => a.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out ITaskAction action) => _actions.TryGetValue(name, out action!);

    public ITaskAction Get(string name) => _actions.TryGetValue(name, out var action)
        ? action
        : throw new TaskRejectedException(ErrorCodes.UnknownAction, $"Action '{name}' is not supported.");

    public IEnumerable<string> Names => _actions.Keys;

    /// <summary>The actions a caller may submit.</summary>
    public IEnumerable<string> NamesFor(bool admin) => _actions.Values.Where(a => admin || !a.AdminOnly).Select(a => a.Name);
}
