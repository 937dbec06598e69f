using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// After OpenIddict revoked a token at the revocation endpoint (RFC 7009): a refresh token takes the whole grant with it (every
/// access and refresh token of its authorization, as RFC 7009, 2.1 recommends), and the revocation list is read again at once,
/// so that the gateway refuses a revoked access token from now on and the orchestrator from its next poll (the list names the
/// token's <c>oi_tkn_id</c>).
/// </summary>
public sealed class TokenRevocation(IOpenIddictTokenManager tokens, IOpenIddictAuthorizationManager authorizations, RevocationList revocations)
    : IOpenIddictServerHandler<HandleRevocationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
        .UseScopedHandler<TokenRevocation>()
        .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order + 1_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(HandleRevocationRequestContext context)
    {
        if (context.IsRejected || context.GenericTokenPrincipal is not { } principal)
            return;
        if (principal.HasTokenType(Oidc.TokenTypeIdentifiers.RefreshToken) && principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
        {
            await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
            if (await authorizations.FindByIdAsync(authorizationId, context.CancellationToken) is { } authorization)
                await authorizations.TryRevokeAsync(authorization, context.CancellationToken);
        }
        await revocations.ReloadAsync(context.CancellationToken);
    }
}
