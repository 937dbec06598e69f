namespace OpenHvx.Orchestrator.DeadLetters;

/// <summary>
/// A message that an error queue of the orchestrator held (<c>orchestrator.results_error</c>, <c>orchestrator.tasks_error</c>),
/// stored as it was, with why it failed.
/// </summary>
/// <param name="Id">derived from the message and its failure, so the same copy delivered twice is stored once</param>
/// <param name="Queue">the queue it failed on (<c>orchestrator.results</c> or <c>orchestrator.tasks</c>)</param>
/// <param name="TaskId">from the routing key, the correlation id or the body, when one names a task</param>
/// <param name="SenderUser">the broker user that published it (AMQP user_id, kept in <c>x-openhvx-user-id</c> by the move)</param>
/// <param name="Reason">MassTransit's fault message (<c>MT-Fault-Message</c>)</param>
/// <param name="ExceptionType">MassTransit's fault exception type (<c>MT-Fault-ExceptionType</c>)</param>
public sealed record DeadLetter(
    Guid Id,
    string Queue,
    Guid? TaskId,
    string? RoutingKey,
    string? ContentType,
    byte[] Body,
    string? SenderUser,
    string? Reason,
    string? ExceptionType,
    DateTimeOffset ReceivedAt,
    DateTimeOffset? ReplayedAt = null);
