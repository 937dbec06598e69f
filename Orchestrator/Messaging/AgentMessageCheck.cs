using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// What an agent's message on the <c>results</c> exchange must pass before the saga sees it, for the relay and for a replay of
/// a dead letter alike: a routing key naming a task, the same task in the body, a valid agent id published by that agent's
/// broker user, a task that exists and was dispatched to that agent. Anything else is a <see cref="RejectedWireMessageException"/>.
/// </summary>
public sealed partial class AgentMessageCheck(ITaskStore tasks, AgentBrokerIdentity identity, TimeProvider clock, ILogger<AgentMessageCheck> logger)
{
    // started.<id> and progress.<id> (task.<id>.started and .progress from agents of the previous release of this generation).
    [GeneratedRegex(@"\A((?<kind>started|progress)\.(?<id>[0-9a-fA-F-]{36})|task\.(?<id>[0-9a-fA-F-]{36})(\.(?<kind>started|progress))?)\z")]
    private static partial Regex RoutingKeyPattern();

    /// <summary>The task a results routing key names, or null.</summary>
    public static Guid? TaskIdOf(string? routingKey)
        => routingKey is not null && RoutingKeyPattern().Match(routingKey) is { Success: true } match && Guid.TryParse(match.Groups["id"].Value, out var id) ? id : null;

    /// <summary><c>result</c>, <c>started</c> or <c>progress</c> for a routing key of the results queue; <c>message</c> for any other.</summary>
    public static string KindOf(string? routingKey)
        => routingKey is not null && RoutingKeyPattern().Match(routingKey) is { Success: true } match
            ? match.Groups["kind"].Value is { Length: > 0 } kind ? kind : "result"
            : "message";

    /// <summary>
    /// The saga's message (<see cref="AgentTaskStarted"/>, <see cref="AgentTaskProgress"/> or <see cref="AgentTaskResult"/>) for an accepted
    /// one; null for an expected one that changes nothing (the <c>ERR_EXPIRED</c> of an agent the task left after its pickup window).
    /// </summary>
    /// <param name="senderUser">the AMQP user_id it was published with (or, for a dead letter, was stored with)</param>
    public async Task<object?> CheckAsync(string routingKey, AgentWireMessage message, string? senderUser, CancellationToken cancellationToken)
    {
        var match = RoutingKeyPattern().Match(routingKey);
        if (!match.Success)
            throw new RejectedWireMessageException($"Unexpected routing key '{routingKey}' on the results queue.");
        var taskId = Guid.Parse(match.Groups["id"].Value);
        if (message.TaskId is { } bodyId && bodyId != taskId)
            throw new RejectedWireMessageException($"Routing key names task {taskId}, the body {bodyId}.");
        if (message.AgentId is null || !Identifiers.IsAgentId(message.AgentId))
            throw new RejectedWireMessageException("The message has no valid agentId.");
        identity.Verify(senderUser, message.AgentId, "result");
        var kind = match.Groups["kind"].Value;
        if (kind.Length == 0 && message.Ok == false && ErrorOf(message)?.Code == ErrorCodes.Expired
            && await tasks.LoadAsync(taskId, cancellationToken) is { } task && task.AgentId != message.AgentId && task.TriedAgents.Contains(message.AgentId))
        {
            logger.LogInformation("Agent {AgentId} did not run task {TaskId} (attempt {Attempt}) after its pickup window; the task is on {Owner}",
                message.AgentId, taskId, message.Attempt, task.AgentId);
            return null;
        }
        await CheckDispatchedToAsync(taskId, message.AgentId, cancellationToken);

        switch (kind)
        {
            case "started":
                return new AgentTaskStarted(taskId, message.AgentId, message.StartedAt ?? message.At ?? clock.GetUtcNow());
            case "progress":
                return new AgentTaskProgress(taskId, message.AgentId, message.Message ?? "", message.At ?? clock.GetUtcNow());
            default:
                if (message.Ok is null)
                    throw new RejectedWireMessageException("A result needs 'ok'.");
                var (ok, error) = OutcomeOf(message);
                return new AgentTaskResult(taskId, message.AgentId, ok, message.Result, error, message.StartedAt, message.FinishedAt ?? clock.GetUtcNow(),
                    message.Attempt);
        }
    }

    /// <summary>
    /// Whether a result reports success, and its error when not. The original agent reports <c>ok</c> for a script that printed
    /// <c>{"ok":false,...}</c> and exited 0: such a result is a failure with the script's <c>error</c>.
    /// </summary>
    public static (bool Ok, AgentError? Error) OutcomeOf(AgentWireMessage message)
    {
        var error = ErrorOf(message);
        if (message.Ok != true)
            return (false, error);
        if (message.Result is { ValueKind: JsonValueKind.Object } result && result.TryGetProperty("ok", out var scriptOk) && scriptOk.ValueKind == JsonValueKind.False)
        {
            return (false, error ?? new AgentError(ErrorCodes.ScriptFailed, result.TryGetProperty("error", out var text) && text.ValueKind == JsonValueKind.String
                && text.GetString() is { Length: > 0 } said ? said : "The script reported a failure."));
        }
        return (true, null);
    }

    /// <summary>
    /// A result's error, whichever shape it came in: a string with the code beside it (ours), a string alone (the original agent's,
    /// <c>""</c> on success; its code is <see cref="ErrorCodes.ScriptFailed"/>), or an object (agents of our previous release).
    /// </summary>
    public static AgentError? ErrorOf(AgentWireMessage message)
    {
        switch (message.Error)
        {
            case { ValueKind: JsonValueKind.String } text when text.GetString() is { Length: > 0 } said:
                return new AgentError(Code(message.ErrorCode) ?? ErrorCodes.ScriptFailed, said, message.ErrorDetails);
            case { ValueKind: JsonValueKind.Object } error:
                var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? Code(c.GetString()) : null;
                var described = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                JsonElement? details = error.TryGetProperty("details", out var d) && d.ValueKind != JsonValueKind.Null ? d.Clone() : null;
                return code is null && described is null ? null : new AgentError(code ?? ErrorCodes.ScriptFailed, described ?? code!, details);
            default:
                return Code(message.ErrorCode) is { } alone ? new AgentError(alone, alone, message.ErrorDetails) : null;
        }
    }

    /// <summary>An agent's error code as kept: capitals, digits and underscores, at most 64 characters; anything else is no code.</summary>
    private static string? Code(string? code) => code is not null && ErrorCodePattern().IsMatch(code) ? code : null;

    [GeneratedRegex(@"\A[A-Z][A-Z0-9_]{0,63}\z")]
    private static partial Regex ErrorCodePattern();

    /// <summary>The task exists and was dispatched to <paramref name="agentId"/>.</summary>
    public async Task CheckDispatchedToAsync(Guid taskId, string agentId, CancellationToken cancellationToken)
    {
        var task = await tasks.LoadAsync(taskId, cancellationToken)
            ?? throw new RejectedWireMessageException($"No task {taskId}: the message is set aside, no task is created.");
        if (task.AgentId != agentId)
        {
            logger.LogWarning("Agent {AgentId} sent a message for task {TaskId}, which belongs to {Owner}; ignored", agentId, taskId, task.AgentId ?? "no agent");
            throw new RejectedWireMessageException($"Task {taskId} was not dispatched to agent {agentId}.");
        }
    }
}
