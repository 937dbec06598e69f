using Microsoft.AspNetCore.Http;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// The one rule for a task named in a route: its id matched whole, and another tenant's task is "not found", exactly like a task that
/// does not exist, so ids do not leak.
/// </summary>
public static class VisibleTasks
{
    /// <summary>The task the caller may see, or null.</summary>
    public static async Task<TaskState?> FindAsync(this ITaskStore store, string taskId, Caller caller, CancellationToken cancellationToken)
        => Identifiers.TryParseId(taskId, out var id) && await store.LoadAsync(id, cancellationToken) is { } task
           && (caller.IsAdmin || task.TenantId == caller.TenantId)
            ? task
            : null;

    /// <summary>
    /// An archived task (<see cref="Retention.IRetentionStore"/>), for admins only: to a tenant, its task past retention is gone like
    /// one that never existed, the same 404 as another tenant's.
    /// </summary>
    public static async Task<TaskState?> FindArchivedAsync(this Retention.IRetentionStore archive, string taskId, Caller caller, CancellationToken cancellationToken)
        => caller.IsAdmin && Identifiers.TryParseId(taskId, out var id) ? await archive.LoadArchivedAsync(id, cancellationToken) : null;

    public static IResult NotFound(string taskId) => Problems.Result(ErrorCodes.NotFound, $"Task '{taskId}' was not found.");
}
