using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Publishes again the results the journal holds unconfirmed (the broker was unreachable or refused them, or the agent
/// died before the confirm): at start, then every <see cref="AgentOptions.ResultRetryInterval"/>, backing off while
/// publishing fails. In the same loop, at most once a minute, it drops the journal's confirmed results older than
/// <see cref="AgentOptions.JournalRetention"/>.
/// </summary>
public sealed class ResultRetryService(
    TaskJournal journal,
    ResultSender sender,
    RunningTasks running,
    IHostApplicationLifetime lifetime,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<ResultRetryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // From when the host has started: in one process with the orchestrator (DevHost), its bus is up by then.
        var started = new TaskCompletionSource();
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        await using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        var interval = options.Value.ResultRetryInterval;
        var longest = TimeSpan.FromTicks(Math.Max(interval.Ticks, TimeSpan.FromMinutes(1).Ticks));
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            bool sent;
            try
            {
                sent = await SendUnconfirmedAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Unconfirmed results could not be read from the journal");
                sent = false;
            }
            failures = sent ? 0 : failures + 1;
            PruneJournal();
            var delay = failures <= 1 ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks << Math.Min(failures - 1, 16), longest.Ticks));
            try
            {
                await Task.Delay(delay, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private DateTimeOffset _prunedAt = DateTimeOffset.MinValue;

    /// <summary>Drops the journal's confirmed results past <see cref="AgentOptions.JournalRetention"/>, at most once a minute; how many.</summary>
    public int PruneJournal()
    {
        var now = clock.GetUtcNow();
        if (options.Value.JournalRetention <= TimeSpan.Zero || now - _prunedAt < TimeSpan.FromMinutes(1))
            return 0;
        _prunedAt = now;
        try
        {
            var pruned = journal.Prune(now - options.Value.JournalRetention);
            if (pruned > 0)
                logger.LogInformation("Dropped {Count} confirmed result(s) older than {Retention} from the task journal", pruned, options.Value.JournalRetention);
            return pruned;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            logger.LogWarning(ex, "The task journal could not be pruned; trying again later");
            return 0;
        }
    }

    /// <summary>False when a publish failed (the broker is likely still away: the rest wait for the next round).</summary>
    public async Task<bool> SendUnconfirmedAsync(CancellationToken cancellationToken)
    {
        foreach (var (taskId, result) in journal.Unconfirmed())
        {
            // A delivery of this task handling it now publishes it itself.
            if (!running.TryEnter(taskId))
                continue;
            try
            {
                logger.LogInformation("Publishing the unconfirmed result of task {TaskId} again", taskId);
                if (!await sender.SendStoredAsync(result, cancellationToken))
                    return false;
            }
            finally
            {
                running.Leave(taskId);
            }
        }
        return true;
    }
}
