namespace OpenHvx.Orchestrator.Messaging;

/// <summary>A shared queue exists on the broker with other arguments than <see cref="BrokerOptions.QueueType"/> declares (<see cref="SharedQueueCheck"/>).</summary>
public sealed class SharedQueueMismatchException(string queue, string virtualHost, SharedQueueType type, string brokerReply)
    : Exception($"The queue '{queue}' on virtual host '{virtualHost}' exists with other arguments than {BrokerOptions.Section}:{nameof(BrokerOptions.QueueType)}={type.ToString().ToLowerInvariant()} "
        + $"declares (the broker answered: {brokerReply}). A queue's type cannot be changed in place: stop every orchestrator, let the queue drain, delete it "
        + $"and start again, or start on a new virtual host (README, \"Quorum queues\").")
{
    public string Queue { get; } = queue;
}
