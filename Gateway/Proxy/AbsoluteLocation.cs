using Yarp.ReverseProxy.Transforms;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// The orchestrator answers with a Location relative to itself: it cannot know where its clients reach the gateway. This
/// response transform makes such a Location absolute as the client sees it, from the client's own request to the gateway
/// (its scheme, host and path base), reading no forwarded header (a client can send any).
/// </summary>
public static class AbsoluteLocation
{
    public static ValueTask ApplyAsync(ResponseTransformContext context)
    {
        var response = context.HttpContext.Response;
        if (context.ProxyResponse is not null && Of(context.HttpContext.Request, response.Headers.Location.ToString()) is { } absolute)
            response.Headers.Location = absolute;
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A path-absolute <paramref name="location"/> (<c>/api/...</c>) made absolute on <paramref name="request"/>'s origin; null for
    /// anything else (none, already absolute, a network-path <c>//host</c>, relative to a path), which is left as it is.
    /// </summary>
    public static string? Of(HttpRequest request, string location)
    {
        if (location.Length == 0 || location[0] != '/' || location.StartsWith("//", StringComparison.Ordinal)
            || location.StartsWith("/\\", StringComparison.Ordinal) || !request.Host.HasValue)
            return null;
        var absolute = $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase.ToUriComponent()}{location}";
        return Uri.TryCreate(absolute, UriKind.Absolute, out _) ? absolute : null;
    }
}
