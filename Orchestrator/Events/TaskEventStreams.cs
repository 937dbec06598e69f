using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Security;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// Server-sent event streams of the task event log. Each stream keeps its own cursor (the last sequence it sent) and reads the
/// log after it: woken by <see cref="TaskEventSignal"/> when this process (or, over the broker, another orchestrator) commits, else every
/// <see cref="EventStreamOptions.PollInterval"/>.
/// A stream ends when its client leaves, the orchestrator stops, its token expires or is revoked, or its tenant is disabled;
/// the client resumes with <c>Last-Event-ID</c>, missing nothing and seeing nothing twice.
/// </summary>
public sealed class TaskEventStreams(
    ITaskEventLog log,
    TaskEventSignal signal,
    IOptions<OrchestratorOptions> options,
    TokenServicePoller tokens,
    ITenantStore tenants,
    IHostApplicationLifetime lifetime,
    TimeProvider clock)
{
    // A comment: every client ignores it, every proxy sees bytes. Written between events, when the SSE formatter is not writing.
    private static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();

    private readonly PartitionedRateLimiter<string> _open = PartitionedRateLimiter.Create<string, string>(partition =>
        RateLimitPartition.GetConcurrencyLimiter(partition, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = options.Value.EventStreams.MaxStreamsPerTenant,
            QueueLimit = 0,
        }));

    private long _logReads;
    private int _openCount;

    private EventStreamOptions Settings => options.Value.EventStreams;

    /// <summary>How many times streams have read the log since start: what open streams cost the store.</summary>
    public long LogReads => Interlocked.Read(ref _logReads);

    /// <summary>Streams being served now.</summary>
    public int OpenCount => Volatile.Read(ref _openCount);

    /// <summary>
    /// The stream of the events after <paramref name="after"/> that <paramref name="filter"/> shows, or 429 when the caller's tenant
    /// (an admin: the admin) has as many streams open as it may.
    /// </summary>
    /// <param name="endAtFinal">end after a final event (a task's stream)</param>
    /// <param name="endWhenCaughtUp">end once the log has nothing more (a task that had already ended when the stream opened)</param>
    public IResult Open(HttpContext http, Caller caller, TaskEventFilter filter, long after, bool endAtFinal, bool endWhenCaughtUp)
    {
        var lease = _open.AttemptAcquire(caller.IsAdmin ? "admin:" + caller.UserId : "tenant:" + caller.TenantId);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(Settings.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Problems.Result(ErrorCodes.RateLimited,
                $"At most {Settings.MaxStreamsPerTenant} event streams may be open at once; close one or retry after the time in Retry-After.");
        }
        http.Response.RegisterForDispose(lease);
        http.Response.Headers.CacheControl = "no-cache";
        // nginx and similar proxies would otherwise hold events back in their buffers.
        http.Response.Headers["X-Accel-Buffering"] = "no";
        return TypedResults.ServerSentEvents(ReadAsync(http, caller, filter, after, endAtFinal, endWhenCaughtUp));
    }

    private async IAsyncEnumerable<SseItem<TaskEventView>> ReadAsync(HttpContext http, Caller caller, TaskEventFilter filter, long after,
        bool endAtFinal, bool endWhenCaughtUp, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, http.RequestAborted, lifetime.ApplicationStopping);
        var token = stop.Token;
        Interlocked.Increment(ref _openCount);
        try
        {
            // The headers (and a first comment) go out at once, so that a client and the proxies between see the stream open before any event.
            if (!await TryWriteKeepAliveAsync(http, token))
                yield break;
            var lastWrite = clock.GetTimestamp();
            var cursor = after;
            while (IsStillAllowed(http))
            {
                // Taken before the read: a commit after the read wakes the wait below.
                var next = signal.Next;
                var batch = await TryReadAsync(filter.After(cursor, Settings.BatchSize), token);
                if (batch is null)
                    yield break;
                foreach (var e in batch)
                {
                    cursor = e.Sequence;
                    if (filter.Matches(e))
                    {
                        var view = TaskEventView.Of(e);
                        yield return new SseItem<TaskEventView>(view, e.Type) { EventId = view.Id };
                        lastWrite = clock.GetTimestamp();
                    }
                    if (endAtFinal && TaskStatuses.IsFinal(e.Status))
                        yield break;
                }
                if (batch.Count == Settings.BatchSize)
                    continue;
                if (endWhenCaughtUp)
                    yield break;

                var silence = clock.GetElapsedTime(lastWrite);
                if (silence >= Settings.KeepAlive)
                {
                    if (!await TryWriteKeepAliveAsync(http, token) || !await TenantIsActiveAsync(caller, token))
                        yield break;
                    lastWrite = clock.GetTimestamp();
                    silence = TimeSpan.Zero;
                }
                var wait = Settings.KeepAlive - silence < Settings.PollInterval ? Settings.KeepAlive - silence : Settings.PollInterval;
                if (!await TryWaitAsync(next, wait, token))
                    yield break;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _openCount);
        }
    }

    private async Task<IReadOnlyList<TaskEvent>?> TryReadAsync(TaskEventQuery query, CancellationToken cancellationToken)
    {
        try
        {
            Interlocked.Increment(ref _logReads);
            return await log.ReadAsync(query, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<bool> TryWaitAsync(Task next, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await TaskEventSignal.WaitAsync(next, timeout, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static async Task<bool> TryWriteKeepAliveAsync(HttpContext http, CancellationToken cancellationToken)
    {
        try
        {
            await http.Response.Body.WriteAsync(KeepAliveComment, cancellationToken);
            await http.Response.Body.FlushAsync(cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The token was checked when the stream opened; a stream outlives neither its expiry nor its revocation.</summary>
    private bool IsStillAllowed(HttpContext http)
        => !tokens.Revocations.IsRevoked(http.User)
           && (!long.TryParse(http.User.FindFirst("exp")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var expires)
               || clock.GetUtcNow().ToUnixTimeSeconds() < expires);

    /// <summary>A tenant disabled while its streams are open: they end at their next keep-alive (a new one is refused, 403).</summary>
    private async Task<bool> TenantIsActiveAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (caller.IsAdmin)
            return true;
        try
        {
            return await tenants.GetAsync(caller.TenantId!, cancellationToken) is { Status: Tenant.Active };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
