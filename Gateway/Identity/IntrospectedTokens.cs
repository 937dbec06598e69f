using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// A client introspects the tokens issued to it, and no others. OpenIddict's own check compares the caller with the token's presenters
/// and audiences, and lets through a token that has no presenter: api.md's password grant without client_id makes such tokens, so any
/// service client holding one (of any tenant, or an admin's) would be told what it says.
/// </summary>
public sealed class IntrospectedTokens : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
        .UseSingletonHandler<IntrospectedTokens>()
        // After OpenIddict has attached the token's principal to the context.
        .SetOrder(0)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
    {
        if (context.GenericTokenPrincipal is { } token && (context.Request.ClientId is not { } client || !token.GetPresenters().Contains(client, StringComparer.Ordinal)))
            context.Reject(Oidc.Errors.InvalidToken, "The token was not issued to this client: a client introspects its own tokens only.");
        return default;
    }
}
