using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Telemetry;

/// <summary>
/// What the gauges of <see cref="OrchestratorMetrics"/> report, read from the store by <see cref="OrchestratorMetricsSampler"/>: a gauge's
/// callback runs on the scrape and must not wait for the store.
/// </summary>
public sealed record OrchestratorSample(long QuotaHoldsActive, long DeadLetters, long OutboxBacklog, long WebhookBacklog, IReadOnlyList<AgentSample> Agents);

/// <summary>One agent as the gauges report it, tagged with its id.</summary>
/// <param name="Free">what its last heartbeat showed free, less what tasks placed on it take meanwhile (as the election counts it); null before its first capacity report</param>
public sealed record AgentSample(string AgentId, bool Online, DateTimeOffset LastHeartbeatAt, AgentCapacity? Free);
