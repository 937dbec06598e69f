using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// POST /tasks/{taskId}/retry: a FAILED or CANCELED task submitted again as a new task with the same action, target and submitted
/// data in the same tenant, the way <see cref="TaskSubmission"/> submits (the same envelope rules, Idempotency-Key, saga and answers).
/// A task is retried once: a second retry is refused naming the first, so a chain of retries stays a line whose newest task is the
/// one to retry. Admins may keep agents out of the new task's election (<c>excludeAgents</c>, <c>excludeFailedAgent</c>).
/// </summary>
public sealed class TaskRetry(TaskSubmission submission, ITaskStore tasks, Retention.IRetentionStore archive)
{
    public const int MaxExcludedAgents = 64;

    private static readonly HashSet<string> OptionFields = ["excludeAgents", "excludeFailedAgent"];

    public async Task<IResult> RetryAsync(HttpContext http, string taskId, Caller caller)
    {
        var cancellationToken = http.RequestAborted;
        if (await tasks.FindAsync(taskId, caller, cancellationToken) is not { } task)
            return await archive.FindArchivedAsync(taskId, caller, cancellationToken) is { } archived
                ? Problems.Result(ErrorCodes.TaskNotRetryable,
                    $"Task {archived.CorrelationId} is archived (it ended before the retention period); submit its action again as a new task.")
                : VisibleTasks.NotFound(taskId);

        var (request, excluded, invalid) = await ReadOptionsAsync(http, caller, task);
        if (invalid is not null)
            return invalid;
        var original = JsonSerializer.SerializeToElement(new { tenantId = task.TenantId, action = task.Action, target = task.Target, data = task.Data },
            JsonSerializerOptions.Web);
        var parsed = submission.ParseEnvelope(original, caller);
        if (parsed.Problem is not null)
            return parsed.Problem;
        var envelope = parsed.Envelope! with { RetryOf = task.CorrelationId, ExcludedAgents = excluded };

        var (key, badKey) = TaskSubmission.IdempotencyKeyOf(http.Request);
        if (badKey is not null)
            return badKey;
        // The key's first request is this retry of this task with these options; the same key on anything else is a conflict.
        var (retryId, replay) = await submission.ClaimAsync(task.TenantId, key, $"retry {task.CorrelationId:D} {request}", caller, cancellationToken,
            RetryIdOf(task.CorrelationId));
        if (replay is not null)
            return replay;
        if (Refusal(task, retryId) is { } refusal)
            return refusal;
        // Its retry was submitted already, by a request whose link has not reached this task yet (or without a key): not a second task.
        if (key.Length == 0 && await tasks.LoadAsync(retryId, cancellationToken) is not null)
            return AlreadyRetried(task.CorrelationId, retryId);
        return await submission.SendAsync(retryId, envelope, caller, key, cancellationToken);
    }

    /// <summary>
    /// The id of a task's retry, the same for every request that retries it: two retries that meet (no key, or two keys) submit one
    /// task, which the saga takes once. A name-based (version 5 style) GUID of the retried task's id.
    /// </summary>
    public static Guid RetryIdOf(Guid taskId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("openhvx-retry:" + taskId.ToString("D")));
        var bytes = hash[..16];
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes);
    }

    private static IResult AlreadyRetried(Guid taskId, Guid retry) => Problems.Result(ErrorCodes.TaskNotRetryable,
        $"Task {taskId} was retried already, by task {retry}: retry the newest task of the chain.",
        details: JsonSerializer.SerializeToElement(new { retriedBy = retry }, JsonSerializerOptions.Web));

    /// <summary>Why <paramref name="task"/> may not be retried by <paramref name="retryId"/> (its own retry, submitted again, may).</summary>
    private static IResult? Refusal(TaskState task, Guid retryId)
    {
        if (task.RetriedBy is { } retry && retry != retryId)
            return AlreadyRetried(task.CorrelationId, retry);
        if (task.Status is not (TaskStatuses.Failed or TaskStatuses.Canceled))
            return Problems.Result(ErrorCodes.TaskNotRetryable, $"Only a FAILED or CANCELED task can be retried; task {task.CorrelationId} is {task.Status}.");
        if (task.LateSuccess)
            return Problems.Result(ErrorCodes.TaskNotRetryable,
                $"Task {task.CorrelationId} succeeded after it had failed: what it built is linked and charged, there is nothing to retry.");
        return null;
    }

    /// <summary>
    /// The optional body: <c>{"excludeAgents": [...], "excludeFailedAgent": true}</c>, admins only; its text (what an Idempotency-Key's
    /// later requests must repeat) and the agents it excludes.
    /// </summary>
    private static async Task<(string Text, IReadOnlyList<string> Excluded, IResult? Problem)> ReadOptionsAsync(HttpContext http, Caller caller, TaskState task)
    {
        var hasBody = http.Request.ContentLength is > 0
            || (http.Request.ContentLength is null && http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);
        if (!hasBody)
            return ("", [], null);
        var (root, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return ("", [], invalid);

        var unknown = root.EnumerateObject().Select(p => p.Name).Where(n => !OptionFields.Contains(n)).ToList();
        if (unknown.Count > 0)
            return ("", [], Problems.Result(ErrorCodes.BadEnvelope, $"Unknown retry field(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", OptionFields)}."));
        if (!caller.IsAdmin && root.EnumerateObject().Any())
            return ("", [], Problems.Result(ErrorCodes.Forbidden, "Only admins may exclude agents from a retry."));

        var errors = new Dictionary<string, string[]>();
        var excluded = new List<string>();
        if (root.TryGetProperty("excludeAgents", out var agents) && agents.ValueKind != JsonValueKind.Null)
        {
            if (agents.ValueKind != JsonValueKind.Array)
                errors["excludeAgents"] = ["must be an array of agent ids"];
            else if (agents.GetArrayLength() > MaxExcludedAgents)
                errors["excludeAgents"] = [$"at most {MaxExcludedAgents} agents"];
            else
            {
                var index = 0;
                foreach (var agent in agents.EnumerateArray())
                {
                    if (agent.ValueKind == JsonValueKind.String && Identifiers.IsAgentId(agent.GetString()))
                        excluded.Add(agent.GetString()!);
                    else
                        errors[$"excludeAgents[{index}]"] = ["must match " + Identifiers.AgentIdRule];
                    index++;
                }
            }
        }
        if (root.TryGetProperty("excludeFailedAgent", out var failedAgent) && failedAgent.ValueKind != JsonValueKind.Null)
        {
            if (failedAgent.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                errors["excludeFailedAgent"] = ["must be true or false"];
            // A task refused before any agent was elected has none to exclude.
            else if (failedAgent.GetBoolean() && task.AgentId is { } agentId)
                excluded.Add(agentId);
        }
        if (errors.Count > 0)
            return ("", [], Problems.Validation(errors));
        return (root.GetRawText(), [.. excluded.Distinct(StringComparer.Ordinal)], null);
    }
}
