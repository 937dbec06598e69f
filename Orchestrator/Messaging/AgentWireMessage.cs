using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// What an agent sends on the <c>results</c> exchange, as plain JSON: a result (routing key <c>task.&lt;taskId&gt;</c>), or our
/// additions <c>started.&lt;taskId&gt;</c> and <c>progress.&lt;taskId&gt;</c>.
/// </summary>
/// <param name="Error">a result's error: a string (ours now, and the original agent's, <c>""</c> on success) or, from agents of the
/// previous release, an object <c>{code, message, details}</c></param>
/// <param name="ErrorCode">the code beside a string <paramref name="Error"/></param>
public sealed record AgentWireMessage(
    Guid? TaskId,
    string? AgentId,
    bool? Ok,
    JsonElement? Result,
    JsonElement? Error,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Message,
    DateTimeOffset? At,
    int? Attempt = null,
    string? ErrorCode = null,
    JsonElement? ErrorDetails = null);
