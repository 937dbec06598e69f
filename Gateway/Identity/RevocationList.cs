using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenIddict.EntityFrameworkCore.Models;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The token service's revocations (<see cref="Revocations"/>): its own entries for subjects and tenants, and every
/// token OpenIddict marked revoked that has not expired (a removed user's, a replayed refresh chain's). Read from the
/// identity store at once after each local change and every <see cref="GatewayOptions.StoreRefresh"/> (another
/// gateway on the same store, OpenIddict's own revocations); the gateway checks every token against it and publishes
/// it at <see cref="TokenServicePaths.Revocations"/> for the orchestrator.
/// </summary>
public sealed class RevocationList(IServiceScopeFactory scopes, TimeProvider clock, IOptions<GatewayOptions> options, ILogger<RevocationList> logger) : BackgroundService
{
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile Snapshot _snapshot = new(RevocationSet.Empty, new RevocationFeed(DateTimeOffset.MinValue, []));

    private sealed record Snapshot(RevocationSet Set, RevocationFeed Feed);

    public RevocationSet Current => _snapshot.Set;

    public RevocationFeed Feed => _snapshot.Feed;

    /// <summary>
    /// Tokens of these keys issued up to now stop working; the store is written and the list reloaded before this returns.
    /// The time is taken holding the store's write lock, which token issue holds too (<see cref="TokenEndpoint"/>): every
    /// token is either issued before the revocation, and refused by it, or checked after it, and not issued.
    /// </summary>
    public async Task RevokeAsync(GatewayDbContext db, IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var key in keys.Distinct())
            {
                var existing = await db.Revocations.FindAsync([key], cancellationToken);
                if (existing is null)
                    db.Revocations.Add(new StoredRevocation { Key = key, RevokedAt = now });
                else
                    existing.RevokedAt = now;
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await ReloadAsync(cancellationToken);
    }

    /// <summary>When any of these keys was last revoked (Unix milliseconds), read from the store itself: every gateway's revocations.</summary>
    public static async Task<long?> LatestRevocationAsync(GatewayDbContext db, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
        => await db.Revocations.AsNoTracking().Where(r => keys.Contains(r.Key)).MaxAsync(r => (long?)r.RevokedAt, cancellationToken);

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            var now = clock.GetUtcNow();
            // A token issued before this is expired whatever the list says: older entries can go.
            var horizon = (now - options.Value.LongestAccessTokenLifetime - TokenClaims.ClockSkew).ToUnixTimeMilliseconds();
            await db.Revocations.Where(r => r.RevokedAt < horizon).ExecuteDeleteAsync(cancellationToken);
            var own = await db.Revocations.AsNoTracking().Select(r => new { r.Key, r.RevokedAt }).ToListAsync(cancellationToken);
            var utcNow = now.UtcDateTime;
            var tokens = await db.Set<OpenIddictEntityFrameworkCoreToken>().AsNoTracking()
                .Where(t => t.Status == Oidc.Statuses.Revoked && t.ExpirationDate > utcNow)
                .Select(t => t.Id!).ToListAsync(cancellationToken);
            var entries = own.Select(r => new RevocationEntry(Revocations.Hash(r.Key), r.RevokedAt / 1000))
                .Concat(tokens.Select(id => new RevocationEntry(Revocations.Hash(Revocations.TokenKey(id)), long.MaxValue)))
                .ToList();
            _snapshot = new Snapshot(new RevocationSet(entries), new RevocationFeed(now, entries));
        }
        finally
        {
            _reload.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.StoreRefresh, clock);
        do
        {
            try
            {
                await ReloadAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "The revocation list could not be read from the identity store; the last one stays in force");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
