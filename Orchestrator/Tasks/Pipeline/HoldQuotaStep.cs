using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Reserves the task's quota increases (<see cref="QuotaLedger"/>); decreases (an edit that shrinks, a delete) are booked when
/// the task succeeds. Undo releases the hold; success commits the deltas, even if the hold lapsed meanwhile (flagged).
/// </summary>
public sealed class HoldQuotaStep(QuotaLedger quotas, IOptions<OrchestratorOptions> options, ILogger<HoldQuotaStep> logger) : ITaskStep
{
    public string State => "HoldingQuota";

    public async Task RunAsync(TaskStepContext context)
    {
        var task = context.Task;
        var deltas = task.QuotaDeltas ?? QuotaAmounts.Zero;
        var increases = new QuotaAmounts(Math.Max(0, deltas.Cpu), Math.Max(0, deltas.MemoryMB), Math.Max(0, deltas.StorageMB), Math.Max(0, deltas.VmCount));
        // A task that reserves nothing (a power change, an inventory) writes nothing.
        if (increases == QuotaAmounts.Zero)
            return;
        var outcome = await quotas.TryHoldAsync(task.CorrelationId, task.TenantId, task.AgentId, increases, options.Value.HoldTtlFor(task.Action), context.CancellationToken);
        if (!outcome.Held)
        {
            var summary = string.Join(", ", outcome.Exceeded.Select(e => $"{e.Resource}: {e.Used} used + {e.Held} held + {e.Requested} > {e.Limit}"));
            throw new TaskRejectedException(ErrorCodes.QuotaExceeded, $"Quota exceeded ({summary}).", new { exceeded = outcome.Exceeded });
        }
        task.QuotaHold = QuotaHoldStatuses.Held;
        task.QuotaHoldExpiresAt = outcome.ExpiresAt;
    }

    public async Task UndoAsync(TaskState task, CancellationToken cancellationToken)
    {
        await quotas.ReleaseAsync(task.CorrelationId, cancellationToken);
        if (task.QuotaHold == QuotaHoldStatuses.Held)
            task.QuotaHold = QuotaHoldStatuses.Released;
    }

    public async Task SettleAsync(TaskState task, CancellationToken cancellationToken)
    {
        if (task.QuotaDeltas is not { } deltas)
            return;
        var commit = await quotas.CommitAsync(task.CorrelationId, task.TenantId, deltas, cancellationToken);
        task.QuotaHold = QuotaHoldStatuses.Committed;
        task.QuotaOverLimit = commit.OverLimit;
        task.QuotaHoldLapsed = commit.HoldLapsed;
        if (commit.HoldLapsed && deltas != QuotaAmounts.Zero)
            logger.LogWarning("Task {TaskId}: its quota hold had lapsed; charged at commit (over limit: {OverLimit})", task.CorrelationId, commit.OverLimit);
    }
}
