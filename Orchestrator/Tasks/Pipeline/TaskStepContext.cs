using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>What the steps of one run of the pipeline share: the task (which they fill in), its action and its target VM.</summary>
public sealed class TaskStepContext(TaskState task, ITaskAction action, CancellationToken cancellationToken)
{
    public TaskState Task { get; } = task;
    public ITaskAction Action { get; } = action;
    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>The tenant's VM the task acts on (found by <see cref="ValidateStep"/>); null for actions that create or act on a host.</summary>
    public TenantResource? Resource { get; set; }
}
