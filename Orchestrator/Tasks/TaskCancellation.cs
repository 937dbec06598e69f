using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// POST /tasks/{taskId}/cancel: MassTransit request/response with the saga (<see cref="CancelTask"/>), then a wait, bounded by
/// <see cref="OrchestratorOptions.CancelWait"/>, for the task to end: 200 with the task as the caller may read it (CANCELED, or SUCCESS or
/// FAILED when its agent finished first), else 202 with its status (<c>canceling</c>), Location and Retry-After. A task that had ended is
/// 409 <c>ERR_TASK_FINAL</c> (an archived one too, for admins); an unknown task, or another tenant's, 404.
/// </summary>
public sealed class TaskCancellation(
    IRequestClient<CancelTask> client,
    ITaskStore tasks,
    Retention.IRetentionStore archive,
    TaskActionCatalog actions,
    TaskAnswers answers,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options)
{
    public async Task<IResult> CancelAsync(string taskId, HttpContext http)
    {
        var caller = Caller.From(http.User);
        var cancellationToken = http.RequestAborted;
        if (await tasks.FindAsync(taskId, caller, cancellationToken) is not { } task)
            return await archive.FindArchivedAsync(taskId, caller, cancellationToken) is { } archived ? Final(archived) : VisibleTasks.NotFound(taskId);
        var id = task.CorrelationId;
        if (TaskStatuses.IsFinal(task.Status))
            return Final(task);

        var waitUntil = clock.GetUtcNow() + options.Value.CancelWait;
        try
        {
            // No time-to-live: a cancel that waits in the saga's queue past the wait (a backlog) is still handled, as the 202 says.
            var response = await client.GetResponse<TaskCancelAnswered, TaskNotFound>(
                new CancelTask(id, caller.UserId, caller.IsAdmin, clock.GetUtcNow()), request => request.UseExecute(send => send.TimeToLive = null),
                cancellationToken, RequestTimeout.After(ms: (int)Math.Max(1, options.Value.CancelWait.TotalMilliseconds)));
            if (response.Is(out Response<TaskNotFound>? _))
                return VisibleTasks.NotFound(taskId);
            if (response.Is(out Response<TaskCancelAnswered>? answered) && answered.Message.AlreadyFinal)
                return Final(await tasks.LoadAsync(id, cancellationToken) ?? task);
        }
        catch (RequestTimeoutException)
        {
            // The saga has not handled the cancel yet: the answer is the task as it is now.
        }
        catch (Exception ex) when (ex is RequestException or MassTransitException or TimeoutException)
        {
            return answers.Problem(ErrorCodes.Unavailable, "The cancel could not be handed to the orchestrator; retry.").ToResult();
        }

        var current = await WaitForEndAsync(id, waitUntil, cancellationToken) ?? task;
        var view = TaskView.For(current, caller, actions);
        if (TaskStatuses.IsFinal(current.Status))
            return Results.Ok(view);
        http.Response.Headers.RetryAfter = answers.PollingSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Accepted(TaskAnswers.StatusUrl(caller, id), view);
    }

    /// <summary>The task once it has ended, or as it is when <paramref name="until"/> comes.</summary>
    private async Task<TaskState?> WaitForEndAsync(Guid id, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var current = await tasks.LoadAsync(id, cancellationToken);
            if (current is null || TaskStatuses.IsFinal(current.Status) || clock.GetUtcNow() >= until)
                return current;
            var left = until - clock.GetUtcNow();
            await Task.Delay(left < delay ? left : delay, clock, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }


    private static IResult Final(TaskState task)
    {
        var problem = Problems.Create(ErrorCodes.TaskFinal, $"The task has already ended ({task.Status}); it cannot be canceled.");
        problem.Extensions["taskId"] = task.CorrelationId;
        problem.Extensions["taskStatus"] = task.Status;
        return Results.Json(problem, statusCode: problem.Status, contentType: Problems.ContentType);
    }
}
