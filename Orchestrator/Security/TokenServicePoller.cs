using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Security;

/// <summary>
/// Reads the token service every <see cref="OrchestratorOptions.RevocationPoll"/>: its revocation list (a token of a
/// removed user, client or tenant, or of a revoked refresh chain, is refused here within that delay) and its signing keys
/// (a rotated-in key is published before it signs, so it is known here before the first token it signs arrives). While
/// the token service cannot be read, the last list and keys stay in force (the gateway, which owns them, checks every
/// request at once).
/// </summary>
public sealed class TokenServicePoller(IHttpClientFactory http, IOptions<OrchestratorOptions> options, TimeProvider clock, ILogger<TokenServicePoller> logger)
    : Cluster.PeriodicJob("Token service poll", clock, logger)
{
    public const string HttpClientName = "authority";

    private volatile RevocationSet _revocations = RevocationSet.Empty;

    private volatile IReadOnlyList<SecurityKey>? _signingKeys;

    public RevocationSet Revocations => _revocations;

    /// <summary>The token service's published signing keys as last read; null until the first read.</summary>
    public IReadOnlyList<SecurityKey>? SigningKeys => _signingKeys;

    public async Task PollAsync(CancellationToken cancellationToken)
    {
        var client = http.CreateClient(HttpClientName);
        var feed = await client.GetFromJsonAsync<RevocationFeed>(TokenServicePaths.Revocations, cancellationToken)
            ?? throw new InvalidOperationException("The revocation list was empty.");
        var keys = new JsonWebKeySet(await client.GetStringAsync(TokenServicePaths.Jwks, cancellationToken)).GetSigningKeys();
        _revocations = new RevocationSet(feed.Entries);
        _signingKeys = [.. keys];
    }

    protected override TimeSpan Interval => options.Value.RevocationPoll;

    protected override Task WorkAsync(CancellationToken cancellationToken) => PollAsync(cancellationToken);

    protected override ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        if (inARow == 1)
            Logger.LogWarning("The token service's revocation list and keys could not be read ({Message}); the last ones stay in force", exception.Message);
        return ValueTask.CompletedTask;
    }

    protected override void OnRecovered(int failures)
        => Logger.LogInformation("The token service is read again ({Count} revocations)", _revocations.Count);
}
