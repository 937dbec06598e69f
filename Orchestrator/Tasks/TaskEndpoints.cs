using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

public static class TaskEndpoints
{
    public static RouteGroupBuilder MapAdminTaskEndpoints(this RouteGroupBuilder admin)
    {
        var tasks = admin.MapGroup("/tasks").WithTags("Tasks");
        tasks.MapPost("", (HttpContext http, TaskSubmission submission) => submission.SubmitAsync(http, Caller.From(http.User)));
        tasks.MapPost("/{taskId}/cancel", (string taskId, HttpContext http, TaskCancellation cancellation) => cancellation.CancelAsync(taskId, http));
        tasks.MapGet("/{taskId}", GetAsync);
        tasks.MapGet("", ListAsync);
        tasks.MapPost("/{taskId}/retry", (string taskId, HttpContext http, TaskRetry retry) => retry.RetryAsync(http, taskId, Caller.From(http.User)));
        return admin;
    }

    /// <summary>A tenant submits in its own tenant and sees its own tasks only, without placement details.</summary>
    public static RouteGroupBuilder MapTenantTaskEndpoints(this RouteGroupBuilder tenant)
    {
        var tasks = tenant.MapGroup("/tasks").WithTags("Tasks");
        tasks.MapPost("", (HttpContext http, TaskSubmission submission) => submission.SubmitAsync(http, Caller.From(http.User)))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite);
        tasks.MapPost("/{taskId}/cancel", (string taskId, HttpContext http, TaskCancellation cancellation) => cancellation.CancelAsync(taskId, http))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite);
        tasks.MapGet("/{taskId}", GetAsync);
        tasks.MapGet("", ListAsync);
        tasks.MapPost("/{taskId}/retry", (string taskId, HttpContext http, TaskRetry retry) => retry.RetryAsync(http, taskId, Caller.From(http.User)))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite);
        return tenant;
    }

    private static async Task<IResult> GetAsync(string taskId, HttpContext http, ITaskStore store, TaskActionCatalog actions,
        DeadLetters.IDeadLetterStore deadLetters, CancellationToken cancellationToken)
    {
        var caller = Caller.From(http.User);
        if (await store.FindAsync(taskId, caller, cancellationToken) is not { } task)
            return VisibleTasks.NotFound(taskId);
        if (caller.IsAdmin)
            return Results.Ok(TaskView.From(task) with
            {
                DeadLetters = [.. (await deadLetters.ListAsync(task.CorrelationId, 100, 0, cancellationToken)).Select(DeadLetters.DeadLetterView.From)],
            });
        return Results.Ok(TaskView.For(task, caller, actions));
    }

    private static async Task<IResult> ListAsync(
        HttpContext http, ITaskStore store, TaskActionCatalog actions, TimeProvider clock, CancellationToken cancellationToken,
        string? tenantId = null, string? status = null, string? state = null, string? action = null, string? agentId = null,
        string? olderThanSeconds = null, string? limit = null, string? offset = null)
    {
        var fields = new Api.QueryFields();
        var (take, skip) = fields.Paging(limit, offset);
        var age = fields.Int(olderThanSeconds, "olderThanSeconds", 0, 0, int.MaxValue);
        if (fields.Errors.Count > 0)
            return Problems.Validation(fields.Errors);

        var caller = Caller.From(http.User);
        if (!caller.IsAdmin)
            (tenantId, agentId) = (caller.TenantId, null);
        var query = new TaskQuery
        {
            TenantId = tenantId, Status = status, State = state, Action = action, AgentId = agentId,
            CreatedBefore = olderThanSeconds is null ? null : clock.GetUtcNow().AddSeconds(-age),
            Limit = take, Offset = skip,
        };
        var items = (await store.QueryAsync(query, cancellationToken)).Select(t => TaskView.For(t, caller, actions)).ToList();
        return Results.Ok(new { items, offset = skip, limit = take, nextOffset = items.Count == take ? skip + take : (int?)null });
    }
}
