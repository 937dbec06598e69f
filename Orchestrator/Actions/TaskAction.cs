using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Actions;

/// <summary>Field errors keyed by JSON path (<c>data.cpu</c>), as in RFC 9457 validation problems.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

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

    /// <summary>Schema pre-validation of <c>data</c> (synchronous, before the saga starts).</summary>
    void Validate(JsonElement data, FieldErrors errors);

    /// <summary>What the task needs free on the elected host.</summary>
    Task<QuotaAmounts> GetRequirementAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken) => Task.FromResult(QuotaAmounts.Zero);

    /// <summary>Applies defaults and lookups, computes the quota deltas; throws <see cref="TaskRejectedException"/> to refuse.</summary>
    Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken);

    /// <summary>The name this task claims in the tenant's VM namespace, if any.</summary>
    string? ClaimedName(JsonElement data) => null;

    Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class TaskActionCatalog(IEnumerable<ITaskAction> actions)
{
    private readonly Dictionary<string, ITaskAction> _actions = actions.ToDictionary(a => a.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out ITaskAction action) => _actions.TryGetValue(name, out action!);

    public ITaskAction Get(string name) => _actions.TryGetValue(name, out var action)
        ? action
        : throw new TaskRejectedException(ErrorCodes.UnknownAction, $"Action '{name}' is not supported.");

    public IEnumerable<string> Names => _actions.Keys;
}
