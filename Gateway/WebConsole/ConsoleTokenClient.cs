using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Identity;

namespace OpenHvx.Gateway.WebConsole;

/// <summary>
/// The console's side of OAuth, as the public client <see cref="FirstPartyClients.Console"/>: it redeems the authorization code
/// with its PKCE verifier, renews the access token with the refresh token, and revokes the grant at sign-out. It talks to this
/// gateway's own token service over the address it listens on (plain HTTP when it listens so, else the issuer's address), so
/// that the console works whatever the public URL is.
/// </summary>
public sealed class ConsoleTokenClient(IHttpClientFactory httpClients, IServer server, TokenIssuer issuer, TimeProvider clock, ILogger<ConsoleTokenClient> logger)
{
    public const string HttpClientName = "console-tokens";

    /// <summary>
    /// Marks the gateway's own calls to its token service. They all come from its own address, so the per-address limit of the
    /// token service (<c>Gateway:TokenRateLimit</c>) would make every console user share one bucket; the browser's own requests
    /// (<c>/console/signin</c>, <c>/console/callback</c>, the sign-in page) are limited by its address instead. The value is
    /// random per process and never leaves it.
    /// </summary>
    public const string BackchannelHeader = "X-OpenHvx-Console-Backchannel";

    private readonly string _backchannelSecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    // The answer to each renewal, by the hash of the refresh token it spent, kept until the new access token expires: the token works
    // once (no reuse leeway), so calls of one page that find the access token expiring together share one renewal, and a call whose
    // answer (with the new cookie) never reached the browser (a dropped connection, a proxy error that cleared the headers) gets the
    // same answer again next time instead of spending the old token a second time, which would end the grant.
    private readonly ConcurrentDictionary<string, Renewal> _renewals = new();

    private sealed record Renewal(Lazy<Task<ConsoleTokenOutcome>> Answer, DateTimeOffset Started);

    /// <summary>Whether <paramref name="request"/> is one of this gateway's own calls (compared in constant time).</summary>
    public bool IsBackchannel(HttpRequest request)
        => request.Headers[BackchannelHeader] is [{ } value]
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(value), Encoding.ASCII.GetBytes(_backchannelSecret));

    public Task<ConsoleTokenOutcome> RedeemAsync(string code, string verifier, Uri redirectUri, CancellationToken cancellationToken)
        => RequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = FirstPartyClients.Console,
            ["code"] = code,
            ["code_verifier"] = verifier,
            ["redirect_uri"] = redirectUri.AbsoluteUri,
        }, cancellationToken);

    public async Task<ConsoleTokenOutcome> RenewAsync(string refreshToken, CancellationToken cancellationToken)
    {
        Forget();
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(refreshToken)));
        var renewal = _renewals.GetOrAdd(key, _ => new Renewal(new Lazy<Task<ConsoleTokenOutcome>>(() => RequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = FirstPartyClients.Console,
            ["refresh_token"] = refreshToken,
        }, CancellationToken.None)), clock.GetUtcNow()));
        var outcome = await renewal.Answer.Value.WaitAsync(cancellationToken);
        // The token service could not be asked: the refresh token is unspent, so the next call tries again.
        if (outcome.Unavailable)
            _renewals.TryRemove(new KeyValuePair<string, Renewal>(key, renewal));
        return outcome;
    }

    /// <summary>Drops the renewals whose new access token has expired, and refusals after a minute.</summary>
    private void Forget()
    {
        var now = clock.GetUtcNow();
        foreach (var (key, renewal) in _renewals)
        {
            if (!renewal.Answer.IsValueCreated || !renewal.Answer.Value.IsCompleted)
                continue;
            var until = renewal.Answer.Value.Result.Tokens?.ExpiresAt ?? renewal.Started.AddMinutes(1);
            if (until < now)
                _renewals.TryRemove(key, out _);
        }
    }

    /// <summary>Revokes the grant (RFC 7009); false when the token service could not be asked or refused.</summary>
    public async Task<bool> RevokeAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            using var http = Client();
            using var answer = await http.PostAsync(TokenServicePaths.Revoke, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = FirstPartyClients.Console,
                ["token"] = token,
                ["token_type_hint"] = "refresh_token",
            }), cancellationToken);
            if (answer.IsSuccessStatusCode)
                return true;
            logger.LogWarning("The console's sign-out could not revoke its grant: {Status}", (int)answer.StatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The console's sign-out could not reach the token service to revoke its grant");
        }
        return false;
    }

    private async Task<ConsoleTokenOutcome> RequestAsync(Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        JsonElement body;
        int status;
        try
        {
            using var http = Client();
            using var answer = await http.PostAsync(TokenServicePaths.Token, new FormUrlEncodedContent(form), cancellationToken);
            status = (int)answer.StatusCode;
            body = await answer.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The console's {Grant} could not reach the token service", form["grant_type"]);
            return ConsoleTokenOutcome.CouldNotAsk;
        }
        var error = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var e) ? e.GetString() : null;
        if (status is >= 200 and < 300 && body.ValueKind == JsonValueKind.Object && body.TryGetProperty("access_token", out var access))
        {
            var lifetime = body.TryGetProperty("expires_in", out var expiresIn) && expiresIn.TryGetInt32(out var seconds) ? seconds : 300;
            return new ConsoleTokenOutcome(new ConsoleTokenSet(access.GetString()!, body.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null,
                clock.GetUtcNow().AddSeconds(lifetime)), Unavailable: false);
        }
        logger.LogInformation("The console's {Grant} was refused: {Status} {Error}", form["grant_type"], status, error);
        // A refusal of the grant (4xx from OAuth) ends the session; a 5xx or a rate limit is the token service being unwell.
        return status is >= 500 or 429 ? ConsoleTokenOutcome.CouldNotAsk : ConsoleTokenOutcome.Refused;
    }

    private HttpClient Client()
    {
        var client = httpClients.CreateClient(HttpClientName);
        client.BaseAddress = BackchannelAddress();
        client.DefaultRequestHeaders.Add(BackchannelHeader, _backchannelSecret);
        return client;
    }

    /// <summary>
    /// A plain-HTTP address the gateway listens on, as a client on this machine reaches it; listening on HTTPS only, the issuer's
    /// address, whose certificate matches its name (the bound address's host, localhost, would not).
    /// </summary>
    private Uri BackchannelAddress()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        if (addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) is { } plain)
            return new Uri(BoundAddress.Normalize(plain) + "/");
        return issuer.Current ?? new Uri(BoundAddress.Of(server) + "/");
    }
}

/// <summary>What the token service answered the console: tokens, a refusal (the session ends), or nothing (it could not be asked; try again).</summary>
public sealed record ConsoleTokenOutcome(ConsoleTokenSet? Tokens, bool Unavailable)
{
    public static readonly ConsoleTokenOutcome Refused = new(null, false);
    public static readonly ConsoleTokenOutcome CouldNotAsk = new(null, true);
}
