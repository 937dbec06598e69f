using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// The task API's answers as the caller may read them, with when to come back: a 202 carries the task's Location (relative
/// here; the gateway makes it absolute as the client sees it) and Retry-After (the polling interval); a 503 carries Retry-After
/// (when an agent or the orchestrator may take the task). Submission, its replays, retry and cancel answer through this.
/// </summary>
public sealed class TaskAnswers(IOptions<OrchestratorOptions> options)
{
    public static string StatusUrl(Caller caller, Guid taskId) => $"{caller.RoutePrefix}/tasks/{taskId}";

    /// <summary>Whole seconds a client should wait before it looks at a task in flight again (the Retry-After of every 202).</summary>
    public int PollingSeconds => Seconds(options.Value.RetryAfter.Polling);

    /// <summary>Whole seconds to wait before trying again after an answer with <paramref name="code"/>; null when trying again will not help.</summary>
    public int? RetryAfterSeconds(string code) => code switch
    {
        ErrorCodes.NoEligibleAgent => Seconds(options.Value.RetryAfter.NoEligibleAgent ?? options.Value.Agents.HeartbeatInterval),
        ErrorCodes.Unavailable => Seconds(options.Value.RetryAfter.Unavailable),
        _ => null,
    };

    /// <summary>202 Accepted: the task's status, its URL in the body and as Location, and Retry-After.</summary>
    public TaskAnswer Accepted(Caller caller, Guid taskId, string status, string state, string? agentId)
    {
        var url = StatusUrl(caller, taskId);
        var body = caller.IsAdmin
            ? JsonSerializer.Serialize(new TaskAcceptedView(taskId, status, state, agentId, url), JsonSerializerOptions.Web)
            : JsonSerializer.Serialize(new TenantTaskAcceptedView(taskId, status, state, url), JsonSerializerOptions.Web);
        return new TaskAnswer(StatusCodes.Status202Accepted, body, "application/json", url, PollingSeconds);
    }

    /// <summary>A refusal as this caller may read it (<see cref="TenantTaskError"/> for tenants); field errors of a validation as <c>errors</c>.</summary>
    public TaskAnswer Rejected(Caller caller, Guid taskId, TaskError error)
    {
        var (message, details) = caller.IsAdmin ? (error.Message, error.Details) : TenantTaskError.From(error) is { } seen ? (seen.Message, seen.Details) : (error.Message, null);
        IDictionary<string, string[]>? errors = null;
        if (error.Code == ErrorCodes.Validation && details is { ValueKind: JsonValueKind.Object } fields)
        {
            errors = JsonSerializer.Deserialize<Dictionary<string, string[]>>(fields.GetRawText());
            details = null;
        }
        var problem = Problems.Create(error.Code, message, errors, details);
        problem.Extensions["taskId"] = taskId;
        return new TaskAnswer(problem.Status!.Value, JsonSerializer.Serialize(problem, JsonSerializerOptions.Web), Problems.ContentType, null,
            RetryAfterSeconds(error.Code));
    }

    /// <summary>A problem of the task API that names no task, with Retry-After when its code has one.</summary>
    public TaskAnswer Problem(string code, string detail, JsonElement? details = null)
    {
        var problem = Problems.Create(code, detail, details: details);
        return new TaskAnswer(problem.Status!.Value, JsonSerializer.Serialize(problem, JsonSerializerOptions.Web), Problems.ContentType, null,
            RetryAfterSeconds(code));
    }

    private static int Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
}

/// <summary>One answer of the task API: what the idempotency store keeps (status and body), and the headers written with it.</summary>
public sealed record TaskAnswer(int StatusCode, string Body, string ContentType, string? Location, int? RetryAfterSeconds)
{
    public IResult ToResult() => new AnswerResult(this);

    private sealed class AnswerResult(TaskAnswer answer) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = answer.StatusCode;
            httpContext.Response.ContentType = answer.ContentType;
            if (answer.Location is not null)
                httpContext.Response.Headers.Location = answer.Location;
            if (answer.RetryAfterSeconds is { } seconds)
                httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return httpContext.Response.WriteAsync(answer.Body);
        }
    }
}
