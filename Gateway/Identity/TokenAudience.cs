using OpenHvx.Contracts;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Which audience a token request asks for (design/api.md, Audiences), in this order: a host that decides it; else the
/// <c>audience</c> field or an RFC 8707 <c>resource</c> (<c>&lt;issuer&gt;api/v1/admin</c> or <c>.../tenant</c>; both given, they must
/// agree); else the scopes (<c>openhvx.admin</c> asks for admin, a tenant scope for tenant); else nothing, and the subject's own
/// audience is taken. A subject gets its own audience only: asking for the other one is refused.
/// </summary>
public sealed class TokenAudience(HostAudiences hosts, TokenIssuer issuer)
{
    /// <summary>Where the request's <c>audience</c> and <c>resource</c> fields are kept: OpenIddict reserves both names (see AddGateway).</summary>
    public const string AudienceParameter = "openhvx_audience";
    public const string ResourceParameter = "openhvx_resource";

    /// <summary>What named the audience of a request.</summary>
    public enum Indicator { Host, AudienceField, Resource, Scope }

    /// <summary>An audience asked for, what asked for it, and the error a subject of the other audience gets.</summary>
    public sealed record Requested(string Audience, Indicator By)
    {
        public string MismatchError => By switch
        {
            Indicator.Resource => Oidc.Errors.InvalidTarget,
            Indicator.Scope => Oidc.Errors.InvalidScope,
            _ => Oidc.Errors.InvalidGrant,
        };
    }

    /// <summary>The audience <paramref name="request"/> asks for (null: none), or why the request is malformed.</summary>
    public (Requested? Audience, GrantRefusal? Refusal) Of(OpenIddictRequest request, HttpContext http)
    {
        var field = request.GetParameter(AudienceParameter) is { } value ? (Microsoft.Extensions.Primitives.StringValues)value : default;
        if (field.Count > 1)
            return (null, new GrantRefusal(Oidc.Errors.InvalidRequest, "'audience' may be given once."));
        return Of(http, field.Count == 1 ? field[0] ?? "" : null, ResourcesOf(request), request.GetScopes());
    }

    /// <summary>The audience asked for by a grant's scopes alone (a device authorization request), on this host.</summary>
    public (Requested? Audience, GrantRefusal? Refusal) Of(IEnumerable<string> scopes, HttpContext http) => Of(http, null, [], scopes);

    private (Requested? Audience, GrantRefusal? Refusal) Of(HttpContext http, string? field, IEnumerable<string> resources, IEnumerable<string> scopes)
    {
        if (hosts.OfHost(http.Request.Host.Host) is { } byHost)
            return (new Requested(byHost, Indicator.Host), null);

        if (field is not null && !Audiences.IsKnown(field))
            return (null, new GrantRefusal(Oidc.Errors.InvalidRequest, "'audience' must be 'admin' or 'tenant'."));
        var explicitly = new HashSet<string>();
        if (field is not null)
            explicitly.Add(field);
        foreach (var resource in resources)
        {
            var audience = Audiences.All.FirstOrDefault(a => issuer.ResourceOf(a) == resource);
            if (audience is null)
                return (null, new GrantRefusal(Oidc.Errors.InvalidTarget,
                    $"Unknown resource; the resources are {string.Join(" and ", Audiences.All.Select(issuer.ResourceOf))}."));
            explicitly.Add(audience);
        }
        if (explicitly.Count > 1)
            return (null, new GrantRefusal(Oidc.Errors.InvalidTarget, "A token is for one API: the resources (and audience) asked for name both."));
        if (explicitly.Count == 1)
            return (new Requested(explicitly.Single(), field is not null ? Indicator.AudienceField : Indicator.Resource), null);

        var asked = scopes.ToHashSet();
        if (asked.Contains(Scopes.Admin))
            return (new Requested(Audiences.Admin, Indicator.Scope), null);
        if (asked.Any(Scopes.All.Contains))
            return (new Requested(Audiences.Tenant, Indicator.Scope), null);
        return (null, null);
    }

    /// <summary>The audience <paramref name="subject"/> gets for <paramref name="requested"/>: its own; a refusal when it asked for the other one.</summary>
    public static (string Audience, GrantRefusal? Refusal) For(Subject subject, Requested? requested)
        => requested is null || requested.Audience == subject.Audience
            ? (subject.Audience, null)
            : (subject.Audience, new GrantRefusal(requested.MismatchError, subject.IsAdmin
                ? "An admin obtains admin tokens only (on the admin host, with audience=admin, the admin resource, or no indicator)."
                : "A tenant user obtains tenant tokens only (on the tenant host, with audience=tenant, the tenant resource, or no indicator)."));

    /// <summary>Runs <see cref="MoveAside"/> once OpenIddict has read a request of <typeparamref name="TContext"/>, before it validates it.</summary>
    public static OpenIddictServerHandlerDescriptor MoveAsideHandler<TContext>() where TContext : OpenIddictServerEvents.BaseContext
        => OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
            .UseInlineHandler(context =>
            {
                MoveAside(context.Transaction.Request);
                return default;
            })
            .SetOrder(int.MaxValue - 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    /// <summary>Moves <c>audience</c> and <c>resource</c> to names OpenIddict does not read.</summary>
    public static void MoveAside(OpenIddictRequest? request)
    {
        if (request is null)
            return;
        foreach (var (name, aside) in new[] { (Oidc.Parameters.Audience, AudienceParameter), (Oidc.Parameters.Resource, ResourceParameter) })
        {
            if (request.GetParameter(name) is { } value)
            {
                request.SetParameter(aside, value);
                request.RemoveParameter(name);
            }
        }
    }

    private static IEnumerable<string> ResourcesOf(OpenIddictRequest request)
    {
        if (request.GetParameter(ResourceParameter) is not { } value)
            return [];
        return ((Microsoft.Extensions.Primitives.StringValues)value).Where(r => r is not null).Select(r => r!);
    }
}
