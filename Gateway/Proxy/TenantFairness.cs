using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// Fairness between tenants beyond the count of requests (admins, who are trusted with the whole estate, only have their
/// request bucket): at most
/// <see cref="FairnessOptions.MaxInFlight"/> requests of one tenant are handled at once (a few more wait their turn), and
/// request bodies draw on a budget of bytes per second, so a tenant posting megabyte bodies within its request rate
/// cannot take the gateway's and the orchestrator's time from the others. Over either, 429 with Retry-After.
/// </summary>
public sealed class TenantFairness(RequestDelegate next, IOptions<GatewayOptions> options)
{
    private readonly PartitionedRateLimiter<string> _inFlight = PartitionedRateLimiter.Create<string, string>(partition =>
        RateLimitPartition.GetConcurrencyLimiter(partition, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = options.Value.Fairness.MaxInFlight,
            QueueLimit = options.Value.Fairness.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));

    private readonly PartitionedRateLimiter<string> _bodyBytes = PartitionedRateLimiter.Create<string, string>(partition =>
        RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Value.Fairness.BodyBytesBurst,
            TokensPerPeriod = options.Value.Fairness.BodyBytesPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments("/api") || GatewayRateLimits.PartitionOf(http.User) is not { } partition
            || !partition.StartsWith(GatewayRateLimits.TenantPartitionPrefix, StringComparison.Ordinal))
        {
            await next(http);
            return;
        }

        // An announced body is paid before it is read; a chunked one pays a typical size first and the rest once read.
        var announced = http.Request.ContentLength;
        var hasBody = announced > 0 || (announced is null && http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);
        var upfront = hasBody ? (int)Math.Min(announced ?? ChunkedAdvance, options.Value.Fairness.BodyBytesBurst) : 0;
        if (upfront > 0)
        {
            using var budget = _bodyBytes.AttemptAcquire(partition, upfront);
            if (!budget.IsAcquired)
            {
                await RefuseAsync(http, budget, "Your tenant has sent too many body bytes lately; retry after the time in Retry-After.");
                return;
            }
        }

        // A task event stream would hold its turn for hours: the orchestrator bounds a tenant's open streams itself.
        if (IsEventStream(http.Request))
        {
            await next(http);
            return;
        }
        using var turn = await _inFlight.AcquireAsync(partition, 1, http.RequestAborted);
        if (!turn.IsAcquired)
        {
            await RefuseAsync(http, turn, "Your tenant has too many requests in progress; retry after the time in Retry-After.");
            return;
        }
        if (announced is not null || !hasBody)
        {
            await next(http);
            return;
        }
        var counted = new CountingStream(http.Request.Body);
        http.Request.Body = counted;
        try
        {
            await next(http);
        }
        finally
        {
            ChargeAfterwards(partition, counted.BytesRead - upfront);
        }
    }

    private const int ChunkedAdvance = 64 * 1024;

    /// <summary><c>GET /api/v1/tenant/events</c> and <c>GET /api/v1/tenant/tasks/{taskId}/events</c>.</summary>
    private static bool IsEventStream(HttpRequest request)
        => HttpMethods.IsGet(request.Method) && request.Path.Value is { } path
           && path.EndsWith("/events", StringComparison.OrdinalIgnoreCase)
           && (path.Equals("/api/v1/tenant/events", StringComparison.OrdinalIgnoreCase)
               || (path.StartsWith("/api/v1/tenant/tasks/", StringComparison.OrdinalIgnoreCase) && path.Count(c => c == '/') == 6));

    /// <summary>Takes what a chunked body cost beyond its advance from the budget, as far as the budget goes (the next body waits for the rest).</summary>
    private void ChargeAfterwards(string partition, long bytes)
    {
        if (bytes <= 0)
            return;
        var available = _bodyBytes.GetStatistics(partition)?.CurrentAvailablePermits ?? 0;
        var take = (int)Math.Min(Math.Min(bytes, available), options.Value.Fairness.BodyBytesBurst);
        if (take > 0)
            _bodyBytes.AttemptAcquire(partition, take).Dispose();
    }

    private static Task RefuseAsync(HttpContext http, RateLimitLease lease, string detail)
    {
        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        // The body is not wanted: closing the connection spares reading (and discarding) it to keep the connection.
        if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0)
            http.Response.Headers.Connection = "close";
        return Problems.WriteAsync(http, ErrorCodes.RateLimited, detail);
    }
}

/// <summary>Per tenant limits on work in progress and on request-body bytes (see <see cref="TenantFairness"/>).</summary>
public sealed class FairnessOptions
{
    public int MaxInFlight { get; set; } = 32;
    public int QueueLimit { get; set; } = 64;
    public int BodyBytesBurst { get; set; } = 8 * 1024 * 1024;
    public int BodyBytesPerSecond { get; set; } = 2 * 1024 * 1024;
}

/// <summary>A request body that counts the bytes read from it.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public long BytesRead { get; private set; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        BytesRead += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        BytesRead += read;
        return read;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
