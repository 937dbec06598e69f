using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// The tenant is active (or an admin cleans up a disabled one); an action on a gone VM is vm.delete; an action on a VM finds the tenant's VM and takes it for this task alone (one task per VM at a time);
/// a name the task claims is reserved in the tenant's namespace. Undo frees both; success frees the VM and keeps the name.
/// </summary>
public sealed class ValidateStep(ITenantStore tenants, IResourceStore resources, TaskActionCatalog actions) : ITaskStep
{
    public string State => "Validating";

    public async Task RunAsync(TaskStepContext context)
    {
        var task = context.Task;
        var tenant = await tenants.GetAsync(task.TenantId, context.CancellationToken)
            ?? throw new TaskRejectedException(ErrorCodes.NotFound, $"Tenant '{task.TenantId}' does not exist.");
        // An admin may still stop or delete a disabled tenant's VMs (to clean it up); nothing else runs for it.
        if (tenant.Status != Tenant.Active && !(task.SubmittedByAdmin && context.Action.CleansUp(task.Data)))
            throw new TaskRejectedException(ErrorCodes.TenantDisabled, $"Tenant '{task.TenantId}' is disabled.");
        if (context.Action.TargetsVm)
        {
            context.Resource = await resources.FindTargetAsync(task.TenantId, task.Target, context.CancellationToken)
                ?? throw new TaskRejectedException(ErrorCodes.NotFound, $"VM '{task.Target?.RefId}' was not found.");
            if (context.Resource.State == ResourceStates.Gone && !context.Action.TargetMayBeGone)
                throw new TaskRejectedException(ErrorCodes.ResourceGone,
                    $"VM '{context.Resource.ResourceId}' is gone from its host (since {context.Resource.GoneAt:O}); only vm.delete may still target it.");
            if (!await resources.TryLockAsync(context.Resource.ResourceId, task.CorrelationId, context.CancellationToken))
                throw new TaskRejectedException(ErrorCodes.ResourceLocked, $"Another task is still changing VM '{context.Resource.ResourceId}'.");
        }
        // A VM keeps its own name: renaming it to that name, or to another case of it, reserves nothing new.
        if (context.Action.ClaimedName(task.Data) is { } name && !string.Equals(name, context.Resource?.Name, StringComparison.OrdinalIgnoreCase) &&
            !await resources.TryReserveNameAsync(task.TenantId, name, task.CorrelationId, context.CancellationToken))
            throw new TaskRejectedException(ErrorCodes.NameTaken, $"The tenant already has a VM (or a vm.create in flight) named '{name}'.");
    }

    public async Task UndoAsync(TaskState task, CancellationToken cancellationToken)
    {
        await resources.UnlockAsync(task.CorrelationId, cancellationToken);
        // A late success linked its VM under this name: the name is the VM's now.
        if (!task.LateSuccess && actions.TryGet(task.Action, out var action) && action.ClaimedName(task.Data) is { } name)
            await resources.ReleaseNameAsync(task.TenantId, name, task.CorrelationId, cancellationToken);
    }

    public Task SettleAsync(TaskState task, CancellationToken cancellationToken) => resources.UnlockAsync(task.CorrelationId, cancellationToken);
}
