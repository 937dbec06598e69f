using Microsoft.EntityFrameworkCore;
using OpenHvx.Gateway.Proxy;

namespace OpenHvx.Gateway.Identity;

/// <summary>The token signing keys: which exist, and a rotation (admin).</summary>
public static class SigningKeyEndpoints
{
    public sealed record SigningKeyView(string KeyId, DateTimeOffset CreatedAt, DateTimeOffset ActiveFrom, DateTimeOffset? RetiredAt, bool Signs);

    public static IEndpointRouteBuilder MapSigningKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1/admin/signing-keys").RequireAuthorization(GatewayPolicies.Admin).RequireRateLimiting(GatewayRateLimits.ApiPolicy)
            .WithTags("Signing keys");
        keys.MapGet("", async (GatewayDbContext db, IdentityKeys identityKeys, CancellationToken ct) =>
            Results.Ok((await db.SigningKeys.AsNoTracking().OrderByDescending(k => k.ActiveFrom).ToListAsync(ct))
                .Select(k => new SigningKeyView(k.KeyId, DateTimeOffset.FromUnixTimeSeconds(k.CreatedAt), DateTimeOffset.FromUnixTimeSeconds(k.ActiveFrom),
                    k.RetiredAt is { } retired ? DateTimeOffset.FromUnixTimeSeconds(retired) : null, k.KeyId == identityKeys.SigningKey.KeyId))));
        // The new key is published at once and signs after Gateway:SigningKeyLead; the old one validates until its tokens
        // have expired. ?immediately=true (a compromised key): the new key signs now and the old ones are dropped.
        keys.MapPost("/rotate", async (IdentityKeys identityKeys, bool? immediately, CancellationToken ct) =>
        {
            var (keyId, signsFrom) = await identityKeys.RotateAsync(immediately == true, ct);
            return Results.Ok(new { keyId, signsFrom, published = identityKeys.ValidationKeys.Select(k => k.KeyId) });
        });
        return app;
    }
}
