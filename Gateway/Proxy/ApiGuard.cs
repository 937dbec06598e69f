using System.Security.Claims;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// Every <c>/api/</c> request: a valid token (401), of the audience the host (or else the path) implies (401), with
/// the role that audience needs (403) and the scope the method needs (403). A path of the other API on a host that
/// decides the audience is not served there (404).
/// </summary>
public sealed class ApiGuard(RequestDelegate next, HostAudiences hosts)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        if (!path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase))
        {
            await next(http);
            return;
        }
        var expected = hosts.Expected(http);
        if (expected is null)
        {
            await Problems.WriteAsync(http, ErrorCodes.NotFound, status: StatusCodes.Status404NotFound, detail: "No API is served at this path.");
            return;
        }
        var user = http.User;
        if (user.Identity?.IsAuthenticated != true)
        {
            await ChallengeAsync(http, "A valid bearer token is required.");
            return;
        }
        if (!user.FindAll("aud").Any(c => c.Value == expected))
        {
            await ChallengeAsync(http, $"This API takes tokens of audience '{expected}'.");
            return;
        }
        if (Audiences.OfPath(path) != expected)
        {
            await Problems.WriteAsync(http, ErrorCodes.NotFound, status: StatusCodes.Status404NotFound, detail: $"This host serves the {expected} API only.");
            return;
        }
        if (Refusal(user, expected, http.Request.Method, path) is { } refusal)
        {
            await Problems.WriteAsync(http, ErrorCodes.Forbidden, status: StatusCodes.Status403Forbidden, detail: refusal);
            return;
        }
        await next(http);
    }

    private static string? Refusal(ClaimsPrincipal user, string audience, string method, string path)
    {
        var scopes = ScopesOf(user);
        if (audience == Audiences.Admin)
            return user.IsInRole(Roles.GlobalAdmin) && scopes.Contains(Scopes.Admin) ? null : $"The admin API needs role {Roles.GlobalAdmin} and scope {Scopes.Admin}.";
        if (!Roles.TenantRoles.Any(user.IsInRole) || user.FindFirst(TokenClaims.TenantId) is null)
            return "The tenant API needs a tenant role and a tenant.";
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
            return scopes.Contains(Scopes.Read) ? null : $"Reading needs scope {Scopes.Read}.";
        if (path.StartsWith("/api/v1/tenant/users", StringComparison.OrdinalIgnoreCase))
            return scopes.Contains(Scopes.Users) ? null : $"Managing users needs scope {Scopes.Users}.";
        return scopes.Contains(Scopes.Write) && Roles.TenantWriters.Any(user.IsInRole) ? null : $"Changes need a writer role and scope {Scopes.Write}.";
    }

    public static IReadOnlySet<string> ScopesOf(ClaimsPrincipal user) => TokenClaims.ScopesIn(user.FindAll(TokenClaims.Scope).Select(c => c.Value));

    private static Task ChallengeAsync(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return Problems.WriteAsync(http, ErrorCodes.Unauthenticated, status: StatusCodes.Status401Unauthorized, detail: detail);
    }
}

/// <summary>Request id in and out (kept when the caller sent a sane one), identity headers out, body size bounded.</summary>
public sealed class RequestHygiene(RequestDelegate next, IOptions<GatewayOptions> options)
{
    public const string RequestIdHeader = "X-Request-Id";

    public async Task InvokeAsync(HttpContext http)
    {
        var inbound = http.Request.Headers[RequestIdHeader].ToString();
        var requestId = TaskTrace.IsRequestId(inbound)
            ? inbound
            : Guid.NewGuid().ToString("N");
        http.TraceIdentifier = requestId;
        http.Request.Headers[RequestIdHeader] = requestId;
        // The ids in log lines are ours: baggage a client sent under their names is dropped before anything logs or forwards it.
        if (System.Diagnostics.Activity.Current is { } activity)
        {
            activity.SetBaggage(TaskTrace.TaskIdBaggage, null);
            activity.SetBaggage(TaskTrace.TenantIdBaggage, null);
            activity.SetBaggage(TaskTrace.RequestIdBaggage, requestId);
        }
        http.Response.OnStarting(() =>
        {
            http.Response.Headers[RequestIdHeader] = requestId;
            return Task.CompletedTask;
        });

        foreach (var header in options.Value.StrippedHeaders)
            http.Request.Headers.Remove(header);

        var max = options.Value.MaxRequestBodyBytes;
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = max;
        if (http.Request.ContentLength > max)
        {
            await Problems.WriteAsync(http, ErrorCodes.PayloadTooLarge, status: StatusCodes.Status413PayloadTooLarge, detail: $"The body may have at most {max} bytes.");
            return;
        }
        await next(http);
    }
}
