namespace OpenHvx.Orchestrator.Messaging;

/// <summary>How the orchestrator declares its queues on RabbitMQ (section <c>Orchestrator:Broker</c>).</summary>
public sealed class BrokerOptions
{
    public const string Section = "Orchestrator:Broker";

    /// <summary><c>classic</c> (the default) or <c>quorum</c>: the type of the queues the orchestrators share (<see cref="SharedQueues"/>).</summary>
    public string QueueType { get; set; } = "classic";

    public bool TryGetQueueType(out SharedQueueType type)
    {
        switch (QueueType?.Trim().ToLowerInvariant())
        {
            case "classic":
                type = SharedQueueType.Classic;
                return true;
            case "quorum":
                type = SharedQueueType.Quorum;
                return true;
            default:
                type = default;
                return false;
        }
    }

    public SharedQueueType SharedQueueType
        => TryGetQueueType(out var type) ? type : throw new InvalidOperationException(BrokerOptionsValidator.BadQueueType(QueueType));
}
