namespace OpenHvx.Orchestrator.Messaging;

/// <summary>The RabbitMQ queue type of the queues the orchestrators share (<see cref="SharedQueues"/>).</summary>
public enum SharedQueueType
{
    Classic,
    Quorum,
}
