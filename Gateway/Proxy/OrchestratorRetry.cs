using OpenHvx.Contracts;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// A request an orchestrator failed at the transport before the client got a byte (connection refused, reset, closed while the
/// gateway waited for the answer) goes to another available orchestrator, each at most once, when doing it again cannot do its
/// work twice: it is a task submission or retry with an <c>Idempotency-Key</c> (<see cref="IdempotencyKeys.Honoured"/>: only those
/// routes claim keys), or a GET, HEAD or OPTIONS, or the connection was never made. Otherwise (any other write that may have reached
/// the orchestrator) the client gets the 502 and decides. Sits before YARP's load balancing, which picks among the destinations left here.
/// </summary>
public sealed class OrchestratorRetry(RequestDelegate next, ILogger<OrchestratorRetry> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var proxy = http.GetReverseProxyFeature();
        var candidates = proxy.AvailableDestinations;
        if (candidates.Count < 2)
        {
            await next(http);
            return;
        }
        var repeatable = IsRepeatable(http.Request);
        // Only a request that may be sent again keeps its body (in memory, then a temporary file; the body size limit still applies).
        var buffered = repeatable && http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;
        if (buffered)
            http.Request.EnableBuffering();
        var tried = new List<DestinationState>(candidates.Count);
        while (true)
        {
            proxy.ProxiedDestination = null;
            await next(http);
            if (proxy.ProxiedDestination is { } destination)
                tried.Add(destination);
            if (http.GetForwarderErrorFeature() is not { } failure || http.Response.HasStarted || !IsTransportFailure(failure.Error)
                || !(repeatable || NeverConnected(failure.Exception)))
                return;
            var rest = candidates.Where(candidate => !tried.Contains(candidate)).ToList();
            if (rest.Count == 0)
                return;
            logger.LogWarning("{Method} {Path}: orchestrator {Destination} failed ({Error}: {Cause}); sending it to another one",
                http.Request.Method, http.Request.Path.Value, proxy.ProxiedDestination?.DestinationId, failure.Error, failure.Exception?.GetBaseException().Message);
            if (buffered)
                http.Request.Body.Position = 0;
            http.Features.Set<IForwarderErrorFeature>(null);
            // YARP forwards only while the response is untouched; its 502 of the failed try goes.
            http.Response.StatusCode = StatusCodes.Status200OK;
            proxy.AvailableDestinations = rest;
        }
    }

    private static bool IsRepeatable(HttpRequest request)
        => HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
           || IdempotencyKeys.Honoured(request.Method, request.Path.Value ?? "", request.Headers[IdempotencyKeys.Header].ToString());

    /// <summary>No answer came: the request failed to be sent or its body to be taken, not the client's side nor a timeout.</summary>
    private static bool IsTransportFailure(ForwarderError error) => error is ForwarderError.Request or ForwarderError.RequestBodyDestination;

    /// <summary>The connection was never made, so nothing of the request (its body neither) left the gateway.</summary>
    private static bool NeverConnected(Exception? exception)
        => exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };
}
