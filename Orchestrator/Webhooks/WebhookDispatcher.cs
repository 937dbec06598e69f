using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// Delivers task events to webhooks from the persisted event log, at least once: each webhook's events of its own tenant after its
/// cursor, one at a time in sequence order (so in order per task; a failing endpoint holds back only its own later events), the
/// cursor saved after each 2xx. A failure waits an exponentially growing, jittered interval; after
/// <see cref="WebhookOptions.MaxConsecutiveFailures"/> in a row the webhook is disabled with the reason. Everything it needs is in
/// the store, so a restart resumes where delivery stood (an event whose 2xx was not yet saved goes again, with the same id).
/// Several webhooks are served at once (<see cref="WebhookOptions.Concurrency"/>), each by one worker at a time.
/// </summary>
public sealed partial class WebhookDispatcher(
    IWebhookStore store,
    ITaskEventLog events,
    TaskEventSignal signal,
    WebhookSender sender,
    Cluster.JobLeaseKeeper leases,
    TimeProvider clock,
    IOptions<WebhookOptions> options,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private const int PageSize = 100;
    // Events one worker delivers, and how long it may take, before it lets the others have the slot (a slow receiver's backlog must not
    // hold a slot for an hour).
    private const int DeliveriesPerTurn = 500;
    private static readonly TimeSpan TurnLength = TimeSpan.FromSeconds(30);

    private const int DueLimit = 10_000;

    // Each webhook's worker (its end), registered before it starts, so that a webhook never has two.
    private readonly ConcurrentDictionary<string, Task> _workers = new();
    private readonly TaskEventSignal _workerDone = new();
    private long _earliestRetryTicks = long.MaxValue;
    // The newest event sequence known per tenant (from the log since start, and from workers that caught up): a webhook whose cursor
    // is there has nothing to deliver, and no worker is started for it. A tenant not in it may have older events: its webhooks run.
    private readonly ConcurrentDictionary<string, long> _tenantLatest = new();
    private long _seen = -1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var slots = new SemaphoreSlim(Math.Max(1, settings.Concurrency));
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Taken before reading, so that a commit or a worker's end during the read is not missed.
                var next = Task.WhenAny(signal.Next, _workerDone.Next);
                // A retry time that has come is covered by this read; later ones stay for the wait below.
                var now = clock.GetUtcNow();
                if (Interlocked.Read(ref _earliestRetryTicks) <= now.UtcTicks)
                    Interlocked.Exchange(ref _earliestRetryTicks, long.MaxValue);
                try
                {
                    // One orchestrator delivers, when several share the store; the others only wait.
                    if (!await leases.HoldsAsync(Cluster.ClusterJobs.WebhookDispatch, stoppingToken))
                    {
                        await TaskEventSignal.WaitAsync(next, settings.PollInterval, stoppingToken);
                        continue;
                    }
                    await ReadNewEventsAsync(stoppingToken);
                    foreach (var webhook in await store.ListDueAsync(now, DueLimit, stoppingToken))
                    {
                        if (_tenantLatest.TryGetValue(webhook.TenantId, out var latest) && latest <= webhook.Delivery.Cursor)
                            continue;
                        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        if (!_workers.TryAdd(webhook.Id, done.Task))
                            continue;
                        try
                        {
                            await slots.WaitAsync(stoppingToken);
                        }
                        catch
                        {
                            _workers.TryRemove(webhook.Id, out _);
                            done.SetResult();
                            throw;
                        }
                        _ = RunWorkerAsync(webhook, slots, done, stoppingToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogReadFailed(logger, ex);
                }
                await TaskEventSignal.WaitAsync(next, WaitTime(settings.PollInterval), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await Task.WhenAll(_workers.Values);
        }
    }

    private TimeSpan WaitTime(TimeSpan poll)
    {
        var earliest = Interlocked.Read(ref _earliestRetryTicks);
        if (earliest == long.MaxValue)
            return poll;
        var untilRetry = new DateTimeOffset(earliest, TimeSpan.Zero) - clock.GetUtcNow();
        return untilRetry <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(1) : untilRetry < poll ? untilRetry : poll;
    }

    /// <summary>Notes which tenants have events newer than those known (all events committed since the last call).</summary>
    private async Task ReadNewEventsAsync(CancellationToken cancellationToken)
    {
        if (_seen < 0)
        {
            _seen = await events.LastSequenceAsync(cancellationToken);
            return;
        }
        while (true)
        {
            var page = await events.ReadAsync(new TaskEventQuery(_seen, 1000), cancellationToken);
            foreach (var e in page)
                _tenantLatest.AddOrUpdate(e.TenantId, e.Sequence, (_, known) => Math.Max(known, e.Sequence));
            if (page.Count > 0)
                _seen = page[^1].Sequence;
            if (page.Count < 1000)
                return;
        }
    }

    private async Task RunWorkerAsync(Webhook webhook, SemaphoreSlim slots, TaskCompletionSource done, CancellationToken stoppingToken)
    {
        await Task.Yield();
        var webhookId = webhook.Id;
        try
        {
            if (await DeliverAsync(webhookId, stoppingToken) is { } caughtUp)
                _tenantLatest.AddOrUpdate(webhook.TenantId, caughtUp, (_, known) => Math.Max(known, caughtUp));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogDeliveryFailed(logger, webhookId, ex);
        }
        finally
        {
            _workers.TryRemove(webhookId, out _);
            slots.Release();
            done.SetResult();
            _workerDone.Pulse();
        }
    }

    /// <summary>
    /// Delivers the webhook's pending events until it is caught up, fails, or has had its turn; returns the cursor it caught up at
    /// (every event of its tenant up to there read), null when it stopped before.
    /// </summary>
    public async Task<long?> DeliverAsync(string webhookId, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(webhookId, cancellationToken) is not { Delivery.Status: Webhook.Active } webhook
            || webhook.Delivery.NextAttemptAt > clock.GetUtcNow())
            return null;
        var filter = WebhookEventFilter.Of(webhook.Events);
        var delivery = webhook.Delivery;
        var cursor = delivery.Cursor;
        var delivered = 0;
        long? caughtUp = null;
        var turn = clock.GetTimestamp();
        while (delivered < DeliveriesPerTurn && clock.GetElapsedTime(turn) < TurnLength)
        {
            var page = await events.ReadAsync(new TaskEventQuery(cursor, PageSize, webhook.TenantId), cancellationToken);
            if (page.Count == 0)
            {
                caughtUp = cursor;
                break;
            }
            foreach (var e in page)
            {
                if (!filter.Matches(e.Action, e.Status))
                {
                    cursor = e.Sequence;
                    continue;
                }
                var attempt = await sender.SendAsync(webhook, e, cancellationToken);
                var now = clock.GetUtcNow();
                if (!attempt.Delivered)
                {
                    await SaveAsync(webhook.Id, delivery, Failed(delivery with { Cursor = cursor }, attempt.Error!, now), cancellationToken);
                    return null;
                }
                cursor = e.Sequence;
                var succeeded = delivery with
                {
                    Cursor = cursor, Failures = 0, NextAttemptAt = null, LastAttemptAt = now, LastDeliveredAt = now, LastError = null,
                };
                if (!await SaveAsync(webhook.Id, delivery, succeeded, cancellationToken))
                    return null;
                delivery = succeeded;
                delivered++;
            }
        }
        if (cursor != delivery.Cursor && !await SaveAsync(webhook.Id, delivery, delivery with { Cursor = cursor }, cancellationToken))
            return null;
        return caughtUp;
    }

    /// <summary>One more failure: the next attempt after a backoff, or the webhook disabled when there were too many in a row.</summary>
    private WebhookDelivery Failed(WebhookDelivery delivery, string error, DateTimeOffset now)
    {
        var settings = options.Value;
        var failures = delivery.Failures + 1;
        var failed = delivery with { Failures = failures, LastAttemptAt = now, LastError = error };
        if (failures >= settings.MaxConsecutiveFailures)
            return failed with
            {
                Status = Webhook.Disabled, NextAttemptAt = null, DisabledAt = now,
                DisabledReason = $"{failures} consecutive deliveries failed; last: {error}",
            };
        var next = now + Backoff(failures, settings);
        InterlockedMin(ref _earliestRetryTicks, next.UtcTicks);
        return failed with { NextAttemptAt = next };
    }

    /// <summary>The first interval doubled after each failure, capped, then between half and all of it (so endpoints that failed together do not retry together).</summary>
    public static TimeSpan Backoff(int failures, WebhookOptions settings)
    {
        var exponent = Math.Min(failures - 1, 30);
        var full = Math.Min(settings.FirstRetryInterval.TotalMilliseconds * Math.Pow(2, exponent), settings.MaxRetryInterval.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(full / 2 + Random.Shared.NextDouble() * full / 2);
    }

    private async Task<bool> SaveAsync(string webhookId, WebhookDelivery stored, WebhookDelivery next, CancellationToken cancellationToken)
    {
        // Saved even while stopping: a 2xx already received must move the cursor, or it is delivered again after the restart.
        var saved = await store.SaveDeliveryAsync(webhookId, stored, next, CancellationToken.None);
        if (!saved)
            LogCursorMoved(logger, webhookId);
        return saved;
    }

    private static void InterlockedMin(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
                return;
            current = seen;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the webhooks due for delivery failed; trying again shortly.")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering to webhook {WebhookId} failed unexpectedly; it is tried again at the next round.")]
    private static partial void LogDeliveryFailed(ILogger logger, string webhookId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} was deleted or changed while being delivered to; its worker stops.")]
    private static partial void LogCursorMoved(ILogger logger, string webhookId);
}
