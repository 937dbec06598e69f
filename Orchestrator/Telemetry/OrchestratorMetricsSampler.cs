using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.DeadLetters;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Telemetry;

/// <summary>
/// Reads what the gauges of <see cref="OrchestratorMetrics"/> report, at start and every <see cref="OrchestratorOptions.MetricsInterval"/>:
/// one read per store (the agent list, four counts), whatever the number of scrapes. A failed read keeps the last sample.
/// </summary>
public sealed class OrchestratorMetricsSampler(
    OrchestratorMetrics metrics,
    IAgentStore agents,
    IQuotaStore quotas,
    IDeadLetterStore deadLetters,
    IAgentOutbox outbox,
    Webhooks.IWebhookStore webhooks,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<OrchestratorMetricsSampler> logger) : Cluster.PeriodicJob("Metrics sampling", clock, logger)
{
    protected override TimeSpan Interval => options.Value.MetricsInterval > TimeSpan.Zero ? options.Value.MetricsInterval : TimeSpan.FromSeconds(15);

    protected override async Task WorkAsync(CancellationToken cancellationToken)
    {
        var now = Clock.GetUtcNow();
        var fleet = options.Value.Agents;
        var registered = await agents.ListAsync(cancellationToken);
        var sample = new OrchestratorSample(
            await quotas.CountHeldAsync(cancellationToken),
            await deadLetters.CountAsync(cancellationToken),
            await outbox.CountAsync(cancellationToken),
            await webhooks.CountBacklogAsync(cancellationToken),
            [.. registered.Select(agent => new AgentSample(agent.AgentId, AgentLiveness.Evaluate(agent, now, fleet).Online, agent.LastHeartbeatAt,
                agent.Free is { } free ? new AgentCapacity(free.Cpu - agent.InFlight.Cpu, free.MemoryMB - agent.InFlight.MemoryMB,
                    free.StorageMB - agent.InFlight.StorageMB) : null))]);
        metrics.Update(sample);
    }

    protected override ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        // Once per outage: the store's health check reports it too.
        if (inARow == 1)
            Logger.LogWarning("The metrics' gauges could not be sampled; they keep their last values ({Message})", exception.Message);
        return ValueTask.CompletedTask;
    }
}
