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
    TimeProvider clock,
    IOptions<WebhookOptions> options,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private const int PageSize = 100;
    // Events one worker delivers before it lets the others have the slot.
    private const int DeliveriesPerTurn = 500;

    private readonly ConcurrentDictionary<string, Task> _workers = new();
    private readonly TaskEventSignal _workerDone = new();
    private long _earliestRetryTicks = long.MaxValue;

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
                    foreach (var webhook in await store.ListDueAsync(now, 1000, stoppingToken))
                    {
                        if (_workers.ContainsKey(webhook.Id))
                            continue;
                        await slots.WaitAsync(stoppingToken);
                        _workers[webhook.Id] = RunWorkerAsync(webhook.Id, slots, stoppingToken);
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

    private async Task RunWorkerAsync(string webhookId, SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await DeliverAsync(webhookId, stoppingToken);
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
            _workerDone.Pulse();
        }
    }

    /// <summary>Delivers the webhook's pending events until it is caught up, fails, or has had its turn.</summary>
    public async Task DeliverAsync(string webhookId, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(webhookId, cancellationToken) is not { Delivery.Status: Webhook.Active } webhook
            || webhook.Delivery.NextAttemptAt > clock.GetUtcNow())
            return;
        var filter = WebhookEventFilter.Of(webhook.Events);
        var delivery = webhook.Delivery;
        var cursor = delivery.Cursor;
        var delivered = 0;
        while (delivered < DeliveriesPerTurn)
        {
            var page = await events.ReadAsync(new TaskEventQuery(cursor, PageSize, webhook.TenantId), cancellationToken);
            if (page.Count == 0)
                break;
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
                    return;
                }
                cursor = e.Sequence;
                var succeeded = delivery with
                {
                    Cursor = cursor, Failures = 0, NextAttemptAt = null, LastAttemptAt = now, LastDeliveredAt = now, LastError = null,
                };
                if (!await SaveAsync(webhook.Id, delivery, succeeded, cancellationToken))
                    return;
                delivery = succeeded;
                delivered++;
            }
        }
        if (cursor != delivery.Cursor)
            await SaveAsync(webhook.Id, delivery, delivery with { Cursor = cursor }, cancellationToken);
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
