using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>Who is calling: the audience decides the route prefix and what the caller may see.</summary>
public sealed record Caller(bool IsAdmin, string? TenantId, string? UserId)
{
    /// <summary>From a validated token: admins act for any tenant they name, tenant users only in their token's.</summary>
    public static Caller From(System.Security.Claims.ClaimsPrincipal user) => new(
        user.HasClaim("aud", Audiences.Admin),
        user.FindFirst(TokenClaims.TenantId)?.Value,
        user.FindFirst(TokenClaims.Subject)?.Value);

    public string RoutePrefix => IsAdmin ? "/api/v1/admin" : "/api/v1/tenant";
}

/// <summary>
/// POST /tasks: envelope and schema pre-validation, Idempotency-Key, then MassTransit
/// request/response with the saga, bounded by <see cref="OrchestratorOptions.SubmitWait"/>. A retry (<see cref="TaskRetry"/>)
/// goes the same way.
/// </summary>
public sealed partial class TaskSubmission(
    IRequestClient<SubmitTask> client,
    TaskActionCatalog actions,
    IIdempotencyStore idempotency,
    ITaskStore tasks,
    Retention.IRetentionStore archive,
    TaskAnswers answers,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options)
{
    private static readonly HashSet<string> EnvelopeFields = ["tenantId", "action", "target", "data"];
    private static readonly HashSet<string> TargetFields = ["kind", "refId", "agentId"];

    public async Task<IResult> SubmitAsync(HttpContext http, Caller caller)
    {
        var cancellationToken = http.RequestAborted;
        var (root, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;

        var parsed = ParseEnvelope(root, caller);
        if (parsed.Problem is not null)
            return parsed.Problem;
        var envelope = parsed.Envelope!;

        var (key, badKey) = IdempotencyKeyOf(http.Request);
        if (badKey is not null)
            return badKey;
        var (taskId, replay) = await ClaimAsync(envelope.TenantId, key, root.GetRawText(), caller, cancellationToken);
        return replay ?? await SendAsync(taskId, envelope, caller, key, cancellationToken);
    }

    /// <summary>The request's Idempotency-Key ("" without one), or a problem when it is not one.</summary>
    internal static (string Key, IResult? Problem) IdempotencyKeyOf(HttpRequest request)
    {
        var key = request.Headers[IdempotencyKeys.Header].ToString();
        if (!IdempotencyKeys.IsWellFormed(key))
            return ("", Problems.Result(ErrorCodes.BadEnvelope, $"{IdempotencyKeys.Header} must be at most {IdempotencyKeys.MaxLength} printable characters."));
        return (key, null);
    }

    /// <summary>
    /// The id of the task to submit: a new one, or the one the key's first request claimed and did not answer; or, when the key has
    /// an answer or was used with another request, the answer to give instead (<paramref name="request"/> is what must be the same).
    /// </summary>
    /// <param name="taskId">the id a new task takes (a retry's is derived from the task it retries); a new one when null</param>
    internal async Task<(Guid TaskId, IResult? Replay)> ClaimAsync(string tenantId, string key, string request, Caller caller, CancellationToken cancellationToken,
        Guid? taskId = null)
    {
        taskId ??= NewId.NextGuid();
        if (key.Length == 0)
            return (taskId.Value, null);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(request)));
        var first = await idempotency.TryClaimAsync(tenantId, key, hash, taskId.Value, cancellationToken);
        if (first is null)
            return (taskId.Value, null);
        if (first.BodyHash != hash || first.StatusCode is not null)
            return (first.TaskId, await ReplayAsync(first, hash, caller, cancellationToken));
        // The first attempt has no answer yet (still running, or it broke before the saga had the task):
        // submit the same task id again; the saga ignores a task it already has.
        return (first.TaskId, null);
    }

    /// <summary>Hands the task to the saga and answers as it decided; the answer is kept under the Idempotency-Key, if any.</summary>
    internal async Task<IResult> SendAsync(Guid taskId, Envelope envelope, Caller caller, string key, CancellationToken cancellationToken)
    {
        // An id that already ran and was archived (a key's unanswered claim, a retry's derived id) must not start again as a new task.
        if (await archive.LoadArchivedAsync(taskId, cancellationToken) is { } archived)
            return answers.Accepted(caller, taskId, archived.Status, archived.CurrentState, archived.AgentId).ToResult();
        TaskAnswer answer;
        try
        {
            answer = await RequestAsync(taskId, envelope, caller, cancellationToken);
        }
        catch (Exception ex) when (ex is RequestException or MassTransitException or TimeoutException)
        {
            return answers.Problem(ErrorCodes.Unavailable, "The task could not be handed to the orchestrator; retry (with the same Idempotency-Key).").ToResult();
        }
        if (key.Length > 0)
            await idempotency.SaveAnswerAsync(envelope.TenantId, key, taskId, answer.StatusCode, answer.Body, CancellationToken.None);
        return answer.ToResult();
    }

    private async Task<TaskAnswer> RequestAsync(Guid taskId, Envelope envelope, Caller caller, CancellationToken cancellationToken)
    {
        var activity = System.Diagnostics.Activity.Current;
        var requestId = activity?.GetBaggageItem(TaskTrace.RequestIdBaggage) is { } inbound && TaskTrace.IsRequestId(inbound) ? inbound : null;
        TaskTrace.Mark(activity, taskId, envelope.TenantId, requestId);
        var submit = new SubmitTask(taskId, envelope.TenantId, envelope.Action, envelope.Target, envelope.Data, caller.UserId, clock.GetUtcNow(), caller.IsAdmin,
            envelope.RetryOf, envelope.ExcludedAgents, requestId);
        try
        {
            // No time-to-live on the submission (MassTransit gives a request its timeout's by default): one that waits in the durable
            // queue past SubmitWait (a backlog, an orchestrator restarting) is still handled, as the 202 promises.
            var response = await client.GetResponse<TaskAccepted, TaskRejected>(submit, request => request.UseExecute(send => send.TimeToLive = null), cancellationToken,
                RequestTimeout.After(ms: (int)options.Value.SubmitWait.TotalMilliseconds));
            if (response.Is(out Response<TaskAccepted>? accepted))
                return answers.Accepted(caller, taskId, accepted.Message.Status, accepted.Message.State, accepted.Message.AgentId);
            response.Is(out Response<TaskRejected>? rejected);
            var rejection = rejected!.Message;
            return answers.Rejected(caller, taskId, new TaskError(rejection.Code, rejection.Message, rejection.Details));
        }
        catch (RequestTimeoutException)
        {
            // The saga has not decided yet; give it a moment to save the task so that the status URL answers at once.
            TaskState? current = null;
            for (var attempt = 0; attempt < 20 && current is null; attempt++)
            {
                current = await tasks.LoadAsync(taskId, CancellationToken.None);
                if (current is null)
                    await Task.Delay(50, CancellationToken.None);
            }
            return answers.Accepted(caller, taskId, current?.Status ?? TaskStatuses.Pending, current?.CurrentState ?? "Submitted", current?.AgentId);
        }
    }

    private async Task<IResult> ReplayAsync(IdempotencyRecord first, string hash, Caller caller, CancellationToken cancellationToken)
    {
        if (first.BodyHash != hash)
            return Problems.Result(ErrorCodes.IdempotencyConflict, "This Idempotency-Key was used with a different body.");
        if (first.StatusCode is StatusCodes.Status202Accepted && first.Response is { } accepted)
        {
            // Written again for this caller: the first one may have been an admin, whose answer names the agent.
            var stored = JsonDocument.Parse(accepted).RootElement;
            string? Read(string name) => stored.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return answers.Accepted(caller, first.TaskId, Read("status") ?? TaskStatuses.Pending, Read("state") ?? "Submitted", Read("agentId")).ToResult();
        }
        if (first.StatusCode is not null && first.Response is { } body)
        {
            // Written again for this caller too: an admin's refusal may hold what a tenant does not see.
            var stored = JsonDocument.Parse(body).RootElement;
            var details = stored.TryGetProperty("errors", out var errors) ? errors : stored.TryGetProperty("details", out var d) ? d : (JsonElement?)null;
            return answers.Rejected(caller, first.TaskId, new TaskError(stored.GetProperty("code").GetString()!, stored.GetProperty("detail").GetString() ?? "", details)).ToResult();
        }
        var current = await tasks.LoadAsync(first.TaskId, cancellationToken);
        return answers.Accepted(caller, first.TaskId, current?.Status ?? TaskStatuses.Pending, current?.CurrentState ?? "Submitted", current?.AgentId).ToResult();
    }

    /// <param name="RetryOf">the task it retries</param>
    /// <param name="ExcludedAgents">agents an admin excluded (retry only)</param>
    internal sealed record Envelope(string TenantId, string Action, TaskTarget? Target, JsonElement Data, Guid? RetryOf = null,
        IReadOnlyList<string>? ExcludedAgents = null);

    internal (Envelope? Envelope, IResult? Problem) ParseEnvelope(JsonElement root, Caller caller)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return (null, Problems.Result(ErrorCodes.BadEnvelope, "The body must be a JSON object."));
        var unknown = root.EnumerateObject().Select(p => p.Name).Where(n => !EnvelopeFields.Contains(n)).ToList();
        if (unknown.Count > 0)
            return (null, Problems.Result(ErrorCodes.BadEnvelope, $"Unknown envelope field(s): {string.Join(", ", unknown)}."));

        if (!root.TryGetProperty("action", out var actionElement) || actionElement.ValueKind != JsonValueKind.String || actionElement.GetString()!.Length == 0)
            return (null, Problems.Result(ErrorCodes.BadEnvelope, "'action' is required and must be a string."));
        var actionName = actionElement.GetString()!;
        if (!actions.TryGet(actionName, out var action))
            return (null, Problems.Result(ErrorCodes.UnknownAction, $"Action '{Truncate(actionName)}' is not supported. Supported: {string.Join(", ", actions.NamesFor(caller.IsAdmin))}."));
        if (action.AdminOnly && !caller.IsAdmin)
            return (null, Problems.Result(ErrorCodes.Forbidden, $"'{actionName}' acts on a whole host: admins only."));

        string? bodyTenant = null;
        if (root.TryGetProperty("tenantId", out var tenantElement) && tenantElement.ValueKind != JsonValueKind.Null)
        {
            if (tenantElement.ValueKind != JsonValueKind.String)
                return (null, Problems.Validation(new Dictionary<string, string[]> { ["tenantId"] = ["must be a string"] }));
            bodyTenant = tenantElement.GetString();
        }
        string tenantId;
        if (caller.IsAdmin)
        {
            if (string.IsNullOrEmpty(bodyTenant))
                return (null, Problems.Result(ErrorCodes.TenantRequired, "Admin requests must name 'tenantId'."));
            tenantId = bodyTenant;
        }
        else
        {
            if (bodyTenant is not null && bodyTenant != caller.TenantId)
                return (null, Problems.Result(ErrorCodes.TenantMismatch, "'tenantId' differs from the tenant of your token."));
            tenantId = caller.TenantId!;
        }
        if (!Identifiers.IsTenantId(tenantId))
            return (null, Problems.Validation(new Dictionary<string, string[]> { ["tenantId"] = ["must match " + Identifiers.TenantIdRule] }));

        TaskTarget? target = null;
        if (root.TryGetProperty("target", out var targetElement) && targetElement.ValueKind != JsonValueKind.Null)
        {
            if (targetElement.ValueKind != JsonValueKind.Object)
                return (null, Problems.Result(ErrorCodes.BadEnvelope, "'target' must be an object."));
            var unknownTarget = targetElement.EnumerateObject().Select(p => p.Name).Where(n => !TargetFields.Contains(n)).ToList();
            if (unknownTarget.Count > 0)
                return (null, Problems.Result(ErrorCodes.BadEnvelope, $"Unknown target field(s): {string.Join(", ", unknownTarget)}."));
            string? Read(string name) => targetElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            bool WrongType(string name) => targetElement.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.String or JsonValueKind.Null);
            if (WrongType("kind") || WrongType("refId") || WrongType("agentId"))
                return (null, Problems.Result(ErrorCodes.BadEnvelope, "'target' fields must be strings or null."));
            target = new TaskTarget(Read("kind") ?? action.TargetKind, Read("refId"), Read("agentId"));
            if (target.Kind != action.TargetKind)
                return (null, Problems.Validation(new Dictionary<string, string[]> { ["target.kind"] = [$"must be '{action.TargetKind}' for {actionName}"] }));
            if (target.AgentId is not null && !Identifiers.IsAgentId(target.AgentId))
                return (null, Problems.Validation(new Dictionary<string, string[]> { ["target.agentId"] = ["must match " + Identifiers.AgentIdRule] }));
            if (target.AgentId is not null && !caller.IsAdmin)
                return (null, Problems.Result(ErrorCodes.Forbidden, "Only admins may pin an agent."));
        }

        if (action.TargetsVm && string.IsNullOrEmpty(target?.RefId))
            return (null, Problems.Result(ErrorCodes.BadEnvelope, $"'{actionName}' acts on an existing VM: 'target.refId' (the VM id) is required."));
        if (target?.RefId is { } refId && !Guid.TryParseExact(refId, "D", out _))
            return (null, Problems.Validation(new Dictionary<string, string[]> { ["target.refId"] = ["must be a VM id (a GUID like 0f8fad5b-d9cb-469f-a165-70867728950e)"] }));

        var data = root.TryGetProperty("data", out var dataElement) ? dataElement.Clone() : JsonSerializer.SerializeToElement(new { });
        var errors = new FieldErrors();
        action.Validate(data, errors);
        if (errors.Any)
            return (null, Problems.Validation(errors.ToDictionary()));
        return (new Envelope(tenantId, actionName, target, data), null);
    }

    private static string Truncate(string value) => value.Length > 64 ? value[..64] + "…" : value;
}
