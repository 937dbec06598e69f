using System.Threading.RateLimiting;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenHvx.ServiceDefaults;
using OpenIddict.Server;
using Microsoft.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The per-address limit of the token endpoint (<see cref="GatewayRateLimits.TokenPolicy"/>) for the endpoints OpenIddict answers
/// itself, in the authentication middleware, before the rate limiter runs: device authorization (each request stores a device
/// code), revocation and introspection. Over it: 429 <c>ERR_RATE_LIMITED</c> with <c>Retry-After</c>, as everywhere else.
/// </summary>
public sealed class OAuthEndpointLimit : IOpenIddictServerHandler<ProcessRequestContext>, IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> _limiter = PartitionedRateLimiter.Create<HttpContext, string>(GatewayRateLimits.AddressBucket);

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessRequestContext>()
        .UseSingletonHandler<OAuthEndpointLimit>()
        .SetOrder(OpenIddictServerHandlers.InferEndpointType.Descriptor.Order + 500)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(ProcessRequestContext context)
    {
        if (context.EndpointType is not (OpenIddictServerEndpointType.DeviceAuthorization or OpenIddictServerEndpointType.Revocation
            or OpenIddictServerEndpointType.Introspection) || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
            return;
        using var lease = _limiter.AttemptAcquire(http);
        if (lease.IsAcquired)
            return;
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        TokenEndpoint.SetRetryAfter(http, retryAfter);
        await Problems.WriteAsync(http, ErrorCodes.RateLimited, "Too many requests; retry after the time in Retry-After.", StatusCodes.Status429TooManyRequests);
        context.HandleRequest();
    }

    public void Dispose() => _limiter.Dispose();
}
