namespace OpenHvx.Contracts;

/// <summary>
/// Names on the RabbitMQ wire (design/architecture.md, Wire topology). Agent messages travel as
/// plain JSON on these exchanges so that agents in other languages interoperate.
/// </summary>
public static class WireTopology
{
    public const string JobsExchange = "jobs";
    public const string ResultsExchange = "results";
    public const string TelemetryExchange = "agent.telemetry";
    public const string TaskEventsExchange = "task.events";
    /// <summary>What reconciliation changed on a tenant's resources (a VM gone or resized out of band, one unmanaged).</summary>
    public const string ResourceEventsExchange = "resource.events";

    public const string ResultsQueue = "orchestrator.results";
    public const string HeartbeatQueue = "orchestrator.heartbeats";
    public const string InventoryQueue = "orchestrator.inventory";
    /// <summary>The task saga's own queue (submissions, the agents' messages relayed, deadlines).</summary>
    public const string TaskSagaQueue = "orchestrator.tasks";

    /// <summary>Where a queue's messages go that can never be processed (MassTransit's convention).</summary>
    public static string ErrorQueue(string queue) => queue + "_error";

    public static string AgentQueue(string agentId) => $"agent.{agentId}.tasks";

    /// <summary>The agent's control queue (<see cref="AgentTaskCancel"/>), bound to <c>jobs</c> with <see cref="AgentControlRoutingKey"/>.</summary>
    public static string AgentControlQueue(string agentId) => $"agent.{agentId}.control";

    /// <summary>
    /// The agent's MassTransit bus endpoint (a temporary queue and exchange every bus has), named after the agent so that
    /// the agent's broker user may declare it without being allowed any name outside <c>agent.&lt;id&gt;.*</c>.
    /// </summary>
    public static string AgentBusQueue(string agentId) => $"agent.{agentId}.bus";

    /// <summary>
    /// The RabbitMQ user of an agent (tools/agent-broker-user.sh creates it with the same rule). An agent id has no '.',
    /// so <c>agent.&lt;id&gt;</c> never equals another agent's user, and the prefix keeps agent users apart from the
    /// service users an operator names; the orchestrator accepts an agent's message only with this AMQP user_id.
    /// </summary>
    public static string AgentBrokerUser(string agentId) => "agent." + agentId;
    public static string AgentRoutingKey(string agentId) => $"agent.{agentId}";
    /// <summary>An agent id has no '.', so this never equals another agent's task key.</summary>
    public static string AgentControlRoutingKey(string agentId) => $"agent.{agentId}.control";

    /// <summary>The result of a task (the original agent's key).</summary>
    public static string ResultRoutingKey(Guid taskId) => $"task.{taskId}";

    /// <summary>
    /// Our additions, outside <c>task.#</c>: the original controller binds that pattern and takes whatever arrives on it for the
    /// task's final result, so a "started" there would end the task and release its hold before the real result.
    /// </summary>
    public static string StartedRoutingKey(Guid taskId) => $"started.{taskId}";
    public static string ProgressRoutingKey(Guid taskId) => $"progress.{taskId}";

    /// <summary>What the orchestrator's results queue binds on <c>results</c>: results, and our started and progress notes.</summary>
    public static readonly IReadOnlyList<string> ResultsBindings = ["task.#", "started.*", "progress.*"];

    public static string HeartbeatRoutingKey(string agentId) => $"heartbeat.{agentId}";
    public static string InventoryRoutingKey(string agentId) => $"inventory.{agentId}";

    /// <summary><c>&lt;tenantId&gt;.&lt;action&gt;.&lt;status&gt;</c>, for example <c>test1.vm.create.FAILED</c>.</summary>
    public static string TaskEventRoutingKey(string tenantId, string action, string status) => $"{tenantId}.{action}.{status}";

    /// <summary><c>&lt;tenantId&gt;.&lt;kind&gt;.&lt;change&gt;</c>, for example <c>test1.vm.gone</c>; unmanaged VMs have tenant <c>_unmanaged</c>.</summary>
    public static string ResourceEventRoutingKey(string tenantId, string kind, string change) => $"{tenantId}.{kind}.{change}";

    /// <summary>The setting that names the broker of the standalone services.</summary>
    public const string BrokerUrlSetting = "OPENHVX_RABBITMQ_URL";

    /// <summary>The broker URI from <see cref="BrokerUrlSetting"/>, for example <c>amqp://guest:guest@localhost:5672/</c>.</summary>
    public static Uri BrokerUri(string? setting)
        => setting is { Length: > 0 } && Uri.TryCreate(setting, UriKind.Absolute, out var uri) && uri.Scheme is "amqp" or "amqps" or "rabbitmq" or "rabbitmqs"
            ? uri
            : throw new InvalidOperationException($"Set {BrokerUrlSetting} to the broker, for example amqp://guest:guest@localhost:5672/.");

    public static Uri ExchangeAddress(string exchange, string type) => new($"exchange:{exchange}?type={type}&durable=true&autodelete=false");
}
