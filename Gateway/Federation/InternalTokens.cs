using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Identity;

namespace OpenHvx.Gateway.Federation;

/// <summary>A short-lived access token of ours for an identity the gateway has already validated (a federated one).</summary>
public sealed class InternalTokens(IdentityKeys keys, TokenIssuer issuer, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    public string Mint(ClaimsPrincipal principal)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>
        {
            [TokenClaims.Subject] = principal.FindFirst(TokenClaims.Subject)!.Value,
            [TokenClaims.Role] = principal.FindAll(TokenClaims.Role).Select(c => c.Value).ToArray(),
            [TokenClaims.Scope] = string.Join(' ', TokenClaims.ScopesIn(principal.FindAll(TokenClaims.Scope).Select(c => c.Value))),
        };
        if (principal.FindFirst(TokenClaims.TenantId) is { } tenant)
            claims[TokenClaims.TenantId] = tenant.Value;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer.Current?.AbsoluteUri,
            Audience = principal.FindFirst("aud")!.Value,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + Lifetime,
            TokenType = "at+jwt",
            Claims = claims,
            SigningCredentials = new SigningCredentials(keys.SigningKey, SecurityAlgorithms.RsaSha256),
        });
    }
}
