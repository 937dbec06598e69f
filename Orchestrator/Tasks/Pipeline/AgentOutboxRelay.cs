using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Sends the agents' tasks from the outbox: each at once after its transaction commits, then, in the background, this
/// orchestrator's entries whose send failed, and the entries of an orchestrator that is gone (killed between a commit and its
/// send), which it adopts (the agent runs a task id at most once, so a second copy of a task that did arrive changes nothing).
/// Entries another live orchestrator sent are its own business: waiting in a busy agent's queue, they are not sent twice.
/// </summary>
public sealed class AgentOutboxRelay(
    IAgentOutbox outbox,
    IAgentTaskSender sender,
    Cluster.JobLeaseKeeper leases,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<AgentOutboxRelay> logger) : Cluster.PeriodicJob("Agent outbox relay", clock, logger)
{
    // By task and attempt: a task re-placed on another agent is a new message to send.
    private readonly ConcurrentDictionary<(Guid TaskId, int Attempt), DateTimeOffset> _sent = new();
    private IReadOnlySet<string> _liveBefore = new HashSet<string>();

    public async Task SendAsync(AgentTask task)
    {
        try
        {
            await sender.SendAsync(task, CancellationToken.None);
            _sent[(task.TaskId, task.Attempt)] = Clock.GetUtcNow();
        }
        catch (Exception ex)
        {
            Logger.LogWarning("Task {TaskId} could not be sent to agent {AgentId} yet ({Message}); the outbox sends it again", task.TaskId, task.AgentId, ex.Message);
        }
    }

    protected override TimeSpan Interval => options.Value.OutboxRetryAfter;

    protected override Task WorkAsync(CancellationToken cancellationToken) => SendLeftoversAsync(cancellationToken);

    protected override ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        Logger.LogWarning(exception, "The agent outbox could not be read; retrying at the next interval");
        return ValueTask.CompletedTask;
    }

    /// <summary>Adopts the entries of orchestrators that are gone, then sends this one's entries older than the retry delay that it has not sent.</summary>
    public async Task SendLeftoversAsync(CancellationToken cancellationToken)
    {
        const int page = 500;
        if (await leases.HoldsAsync(Cluster.ClusterJobs.OutboxAdoption, cancellationToken))
        {
            // Gone means missing from two readings in a row: one late renewal of a busy orchestrator does not hand its entries over.
            var live = await leases.LiveInstancesAsync(cancellationToken);
            var aliveLately = live.Union(_liveBefore).ToHashSet();
            _liveBefore = live;
            if (await outbox.AdoptAsync(leases.InstanceId, aliveLately, cancellationToken) is > 0 and var adopted)
                Logger.LogInformation("Adopted {Count} agent task(s) stored by an orchestrator that is gone; sending them", adopted);
        }
        var now = Clock.GetUtcNow();
        // Page past the entries already sent (they wait for their agent's answer), so that one silent agent's backlog
        // never hides another task whose send failed.
        for (var skip = 0; ; skip += page)
        {
            var entries = await outbox.ListAsync(now - options.Value.OutboxRetryAfter, page, cancellationToken, skip, leases.InstanceId);
            foreach (var task in entries.Where(t => !_sent.ContainsKey((t.TaskId, t.Attempt))))
            {
                // A resend has no trace of its own to continue: it starts one, with the task's ids, which the agent's spans join.
                using var activity = Telemetry.OrchestratorDiagnostics.Source.StartActivity("outbox resend", System.Diagnostics.ActivityKind.Producer);
                TaskTrace.Mark(activity, task.TaskId, task.TenantId);
                await SendAsync(task);
            }
            if (entries.Count < page)
                break;
        }
        foreach (var (key, at) in _sent)
        {
            if (now - at > TimeSpan.FromHours(1))
                _sent.TryRemove(key, out _);
        }
    }
}
