using Microsoft.AspNetCore.Http.Features;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;
using Yarp.ReverseProxy.Forwarder;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// A request YARP could not forward, answered by whose fault it was: a body the client sent wrong (too large once
/// read, shorter than announced, aborted) is the client's 4xx; only an orchestrator that cannot be reached is a 502.
/// </summary>
public static class ForwarderFailures
{
    public static Task WriteAsync(HttpContext http, IForwarderErrorFeature failure)
    {
        if (IsClientFault(failure.Error))
        {
            var status = (failure.Exception as BadHttpRequestException ?? failure.Exception?.InnerException as BadHttpRequestException)?.StatusCode
                ?? StatusCodes.Status400BadRequest;
            return status == StatusCodes.Status413PayloadTooLarge
                ? Problems.WriteAsync(http, ErrorCodes.PayloadTooLarge, $"The body may have at most {MaxBodyBytes(http)} bytes.", status)
                : Problems.WriteAsync(http, ErrorCodes.BadRequest, "The request body could not be read (cut short, too slow, or not as announced).", status);
        }
        // YARP's own line for this is Information, which the service defaults keep out: the cause is logged here.
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ForwarderFailures))
            .LogWarning("The orchestrator could not be reached for {Method} {Path}: {Error} ({Cause})", http.Request.Method, http.Request.Path.Value,
                failure.Error, failure.Exception?.GetBaseException().Message);
        return Problems.WriteAsync(http, ErrorCodes.UpstreamUnavailable, $"The orchestrator could not be reached ({failure.Error}); retry.", StatusCodes.Status502BadGateway);
    }

    private static bool IsClientFault(ForwarderError error)
        => error is ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled or ForwarderError.RequestCanceled
            or ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeRequestCanceled;

    private static long? MaxBodyBytes(HttpContext http) => http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
}
