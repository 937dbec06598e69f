using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;

namespace OpenHvx.Orchestrator.DeadLetters;

/// <summary>Why a dead letter was not replayed: the problem's code and status, and what failed.</summary>
public sealed record ReplayRefusal(string Code, int Status, string Message);

/// <summary>
/// Replays a dead letter: the stored message goes through the relay's checks again (<see cref="AgentMessageCheck"/>; the broker
/// identity check against the sender user stored with it) and is handed to the saga; the entry is then marked replayed. A
/// message that fails again stays, unreplayed.
/// </summary>
public sealed class DeadLetterReplay(IDeadLetterStore store, AgentMessageCheck check, IServiceProvider services, TimeProvider clock)
{
    public const string AlreadyReplayed = "ERR_ALREADY_REPLAYED";
    public const string Refused = "ERR_MESSAGE_REFUSED";
    public const string NotReplayable = "ERR_NOT_REPLAYABLE";

    // The saga's messages that came from agents (relayed after the relay's checks): what a saga-queue dead letter may be.
    private static readonly Dictionary<string, Type> AgentMessages = new[] { typeof(AgentTaskResult), typeof(AgentTaskStarted), typeof(AgentTaskProgress) }
        .ToDictionary(type => MessageUrn.ForTypeString(type), type => type);

    // Resolved when first used: the bus is built from the saga.
    private IBus Bus => field ??= services.GetRequiredService<IBus>();

    /// <summary>Null when replayed; the entry is then marked replayed.</summary>
    public async Task<(DeadLetter? Letter, ReplayRefusal? Refusal)> ReplayAsync(Guid id, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is not { } letter)
            return (null, new ReplayRefusal(ErrorCodes.NotFound, StatusCodes.Status404NotFound, $"Dead letter '{id}' was not found."));
        if (letter.ReplayedAt is not null)
            return (letter, new ReplayRefusal(AlreadyReplayed, StatusCodes.Status409Conflict, $"Dead letter '{id}' was replayed at {letter.ReplayedAt:O}."));

        object message;
        try
        {
            message = letter.Queue switch
            {
                _ when letter.Queue == WireTopology.ErrorQueue(WireTopology.ResultsQueue) => await check.CheckAsync(letter.RoutingKey ?? "",
                    JsonSerializer.Deserialize<AgentWireMessage>(letter.Body, SystemTextJsonMessageSerializer.Options)
                        ?? throw new RejectedWireMessageException("The body is JSON null."), letter.SenderUser, cancellationToken)
                    ?? throw new NotReplayableException("An agent's refusal of an attempt the task had left: nothing to replay."),
                _ when letter.Queue == WireTopology.ErrorQueue(WireTopology.TaskSagaQueue) => await SagaMessageAsync(letter, cancellationToken),
                _ => throw new NotReplayableException($"Messages from {letter.Queue} are not replayed."),
            };
        }
        catch (NotReplayableException ex)
        {
            return (letter, new ReplayRefusal(NotReplayable, StatusCodes.Status422UnprocessableEntity, ex.Message));
        }
        catch (JsonException ex)
        {
            return (letter, new ReplayRefusal(Refused, StatusCodes.Status422UnprocessableEntity, $"The stored message is not a valid agent message: {ex.Message}"));
        }
        catch (RejectedWireMessageException ex)
        {
            return (letter, new ReplayRefusal(Refused, StatusCodes.Status422UnprocessableEntity, ex.Message));
        }

        // Marked first: of two replays at once, one hands the message on.
        var at = clock.GetUtcNow();
        if (!await store.MarkReplayedAsync(id, at, cancellationToken))
            return (letter, new ReplayRefusal(AlreadyReplayed, StatusCodes.Status409Conflict, $"Dead letter '{id}' was replayed meanwhile."));
        try
        {
            await Bus.Publish(message, message.GetType(), cancellationToken);
        }
        catch
        {
            await store.UnmarkReplayedAsync(id, CancellationToken.None);
            throw;
        }
        return (letter with { ReplayedAt = at }, null);
    }

    /// <summary>
    /// A saga-queue dead letter is a MassTransit envelope the relay published after its checks (the broker identity among them);
    /// the task and agent are checked again, since either may have changed.
    /// </summary>
    private async Task<object> SagaMessageAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        using var envelope = JsonDocument.Parse(letter.Body);
        var root = envelope.RootElement;
        var type = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("messageType", out var types) && types.ValueKind == JsonValueKind.Array
            ? types.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String && AgentMessages.TryGetValue(t.GetString()!, out var known) ? known : null)
                .FirstOrDefault(t => t is not null)
            : null;
        if (type is null || !root.TryGetProperty("message", out var body))
            throw new NotReplayableException("Only an agent's result, started or progress message is replayed to the saga.");
        var message = body.Deserialize(type, SystemTextJsonMessageSerializer.Options) ?? throw new RejectedWireMessageException("The message is JSON null.");
        var (taskId, agentId) = message switch
        {
            AgentTaskResult r => (r.TaskId, r.AgentId),
            AgentTaskStarted s => (s.TaskId, s.AgentId),
            AgentTaskProgress p => (p.TaskId, p.AgentId),
            _ => throw new NotReplayableException("Only an agent's result, started or progress message is replayed to the saga."),
        };
        if (agentId is null || !Identifiers.IsAgentId(agentId))
            throw new RejectedWireMessageException("The message has no valid agentId.");
        await check.CheckDispatchedToAsync(taskId, agentId, cancellationToken);
        return message;
    }

    private sealed class NotReplayableException(string message) : Exception(message);
}
