using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Proxy;

/// <summary>Token buckets: one per tenant (admins: one per subject) on the API, one per client address on the token endpoint.</summary>
public static class GatewayRateLimits
{
    public const string ApiPolicy = "per-tenant";
    public const string TokenPolicy = "per-address";
    public const string TenantPartitionPrefix = "tenant:";

    public static IServiceCollection AddGatewayRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(ApiPolicy, http => PartitionOf(http.User) is { } partition
                ? Bucket(partition, partition.StartsWith(TenantPartitionPrefix, StringComparison.Ordinal) ? Options(http).RateLimit : Options(http).AdminRateLimit)
                : AddressBucket(http));
            limiter.AddPolicy(TokenPolicy, AddressBucket);
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var period = Options(context.HttpContext).RateLimit.ReplenishmentPeriod;
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : period;
                context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await Problems.WriteAsync(context.HttpContext, ErrorCodes.RateLimited, status: StatusCodes.Status429TooManyRequests, detail:
                    "Too many requests; retry after the time in Retry-After.");
            };
        });
        return services;
    }

    /// <summary>Tenant users share their tenant's bucket; anyone else has a bucket of their own.</summary>
    public static string? PartitionOf(ClaimsPrincipal user)
        => user.FindFirstValue(TokenClaims.TenantId) is { } tenant ? TenantPartitionPrefix + tenant
        : user.FindFirstValue(TokenClaims.Subject) is { } subject ? "subject:" + subject
        : null;

    /// <summary>The client address's bucket of the token service (<see cref="GatewayOptions.TokenRateLimit"/>).</summary>
    public static RateLimitPartition<string> AddressBucket(HttpContext http)
        => http.RequestServices.GetService<WebConsole.ConsoleTokenClient>()?.IsBackchannel(http.Request) == true
            ? RateLimitPartition.GetNoLimiter("console-backchannel")
            : Bucket(AddressOf(http), Options(http).TokenRateLimit);

    private static string AddressOf(HttpContext http) => "address:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    private static GatewayOptions Options(HttpContext http) => http.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value;

    private static RateLimitPartition<string> Bucket(string key, RateLimitOptions options)
        => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.TokenLimit,
            TokensPerPeriod = options.TokensPerPeriod,
            ReplenishmentPeriod = options.ReplenishmentPeriod,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
}
