using System.Net.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Security;

/// <summary>
/// The token service's revocation list (<see cref="Revocations.FeedPath"/>), read every
/// <see cref="OrchestratorOptions.RevocationPoll"/>: a token of a removed user, client or tenant, or of a revoked refresh
/// chain, is refused here too within that delay. While the list cannot be read the last one stays in force (the
/// gateway, which owns it, checks every request at once).
/// </summary>
public sealed class RevocationFeedPoller(IHttpClientFactory http, IOptions<OrchestratorOptions> options, TimeProvider clock, ILogger<RevocationFeedPoller> logger)
    : BackgroundService
{
    public const string HttpClientName = "authority";

    private volatile RevocationSet _current = RevocationSet.Empty;
    private bool _failing;

    public RevocationSet Current => _current;

    public async Task PollAsync(CancellationToken cancellationToken)
    {
        var feed = await http.CreateClient(HttpClientName).GetFromJsonAsync<RevocationFeed>(Revocations.FeedPath, cancellationToken)
            ?? throw new InvalidOperationException("The revocation list was empty.");
        _current = new RevocationSet(feed.Entries);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RevocationPoll, clock);
        do
        {
            try
            {
                await PollAsync(stoppingToken);
                if (_failing)
                    logger.LogInformation("The revocation list is read again ({Count} entries)", _current.Count);
                _failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (!_failing)
                    logger.LogWarning("The revocation list could not be read from the token service ({Message}); the last one stays in force", ex.Message);
                _failing = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
