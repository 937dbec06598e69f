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
        tasks.MapPost("", (HttpContext http, TaskSubmission submission) => submission.SubmitAsync(http, Caller.From(http.User)))
            .Produces<TaskAcceptedView>(StatusCodes.Status202Accepted).WithSummary("Submit a task");
        tasks.MapPost("/{taskId}/cancel", (string taskId, HttpContext http, TaskCancellation cancellation) => cancellation.CancelAsync(taskId, http))
            .WithSummary("Cancel a task that has not ended");
        tasks.MapGet("/{taskId}", GetAsync).Produces<TaskView>().WithSummary("A task with its timeline, placement, quota hold and result");
        tasks.MapGet("", ListAsync).Produces<TaskPage<TaskView>>().WithSummary("Tasks, newest first");
        tasks.MapPost("/{taskId}/retry", (string taskId, HttpContext http, TaskRetry retry) => retry.RetryAsync(http, taskId, Caller.From(http.User)))
            .Produces<TaskAcceptedView>(StatusCodes.Status202Accepted).WithSummary("Retry a FAILED or CANCELED task as a new task");
        return admin;
    }

    /// <summary>A tenant submits in its own tenant and sees its own tasks only, without placement details.</summary>
    public static RouteGroupBuilder MapTenantTaskEndpoints(this RouteGroupBuilder tenant)
    {
        var tasks = tenant.MapGroup("/tasks").WithTags("Tasks");
        tasks.MapPost("", (HttpContext http, TaskSubmission submission) => submission.SubmitAsync(http, Caller.From(http.User)))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite)
            .Produces<TenantTaskAcceptedView>(StatusCodes.Status202Accepted).WithSummary("Submit a task");
        tasks.MapPost("/{taskId}/cancel", (string taskId, HttpContext http, TaskCancellation cancellation) => cancellation.CancelAsync(taskId, http))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite)
            .WithSummary("Cancel a task that has not ended");
        tasks.MapGet("/{taskId}", GetAsync).Produces<TenantTaskView>().WithSummary("A task with its timeline, quota hold and result");
        tasks.MapGet("", ListAsync).Produces<TaskPage<TenantTaskView>>().WithSummary("The tenant's tasks, newest first");
        tasks.MapPost("/{taskId}/retry", (string taskId, HttpContext http, TaskRetry retry) => retry.RetryAsync(http, taskId, Caller.From(http.User)))
            .RequireAuthorization(Security.OrchestratorPolicies.TenantWrite)
            .Produces<TenantTaskAcceptedView>(StatusCodes.Status202Accepted).WithSummary("Retry a FAILED or CANCELED task as a new task");
        return tenant;
    }

    /// <summary>A task by id; for admins, a task past retention too, from the archive (marked <c>archived</c>).</summary>
    private static async Task<IResult> GetAsync(string taskId, HttpContext http, ITaskStore store, Retention.IRetentionStore archive, TaskActionCatalog actions,
        DeadLetters.IDeadLetterStore deadLetters, CancellationToken cancellationToken)
    {
        var caller = Caller.From(http.User);
        var task = await store.FindAsync(taskId, caller, cancellationToken);
        var archived = task is null ? await archive.FindArchivedAsync(taskId, caller, cancellationToken) : null;
        if ((task ?? archived) is not { } found)
            return VisibleTasks.NotFound(taskId);
        if (caller.IsAdmin)
            return Results.Ok(TaskView.From(found) with
            {
                DeadLetters = [.. (await deadLetters.ListAsync(found.CorrelationId, 100, 0, cancellationToken)).Select(DeadLetters.DeadLetterView.From)],
                Archived = archived is null ? null : true,
            });
        return Results.Ok(TaskView.For(found, caller, actions));
    }

    private static async Task<IResult> ListAsync(HttpContext http, ITaskStore store, TaskActionCatalog actions, TimeProvider clock,
        [AsParameters] TaskListQuery filter, CancellationToken cancellationToken)
    {
        var fields = new Api.QueryFields();
        var (take, skip) = fields.Paging(filter.Limit, filter.Offset);
        var age = fields.Int(filter.OlderThanSeconds, "olderThanSeconds", 0, 0, int.MaxValue);
        if (filter.InFlight is not (null or "true"))
            fields.Errors["inFlight"] = ["must be true (leave it out for every task)"];
        if (fields.Errors.Count > 0)
            return Problems.Validation(fields.Errors);

        var caller = Caller.From(http.User);
        var (tenantId, agentId) = caller.IsAdmin ? (filter.TenantId, filter.AgentId) : (caller.TenantId, null);
        var query = new TaskQuery
        {
            TenantId = tenantId, Status = filter.Status, State = filter.State, Action = filter.Action, AgentId = agentId,
            InFlight = filter.InFlight == "true",
            CreatedBefore = filter.OlderThanSeconds is null ? null : clock.GetUtcNow().AddSeconds(-age),
            Limit = take, Offset = skip,
        };
        var found = await store.QueryAsync(query, cancellationToken);
        int? next = found.Count == take ? skip + take : null;
        return caller.IsAdmin
            ? Results.Ok(new TaskPage<TaskView>([.. found.Select(TaskView.From)], skip, take, next))
            : Results.Ok(new TaskPage<TenantTaskView>([.. found.Select(t => TenantTaskView.From(t, actions))], skip, take, next));
    }
}
