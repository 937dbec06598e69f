using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Identity;

namespace OpenHvx.Gateway.WebConsole;

/// <summary>
/// The console's side of OAuth, as the public client <see cref="FirstPartyClients.Console"/>: it redeems the authorization code
/// with its PKCE verifier, renews the access token with the refresh token, and revokes the grant at sign-out. It talks to this
/// gateway's own token service over the address it listens on, so that the console works whatever the public URL is.
/// </summary>
public sealed class ConsoleTokenClient(IHttpClientFactory httpClients, IServer server, TimeProvider clock, ILogger<ConsoleTokenClient> logger)
{
    public const string HttpClientName = "console-tokens";

    /// <summary>
    /// Marks the gateway's own calls to its token service. They all come from its own address, so the per-address limit of the
    /// token service (<c>Gateway:TokenRateLimit</c>) would make every console user share one bucket; the browser's own requests
    /// (<c>/console/signin</c>, <c>/console/callback</c>, the sign-in page) are limited by its address instead. The value is
    /// random per process and never leaves it.
    /// </summary>
    public const string BackchannelHeader = "X-OpenHvx-Console-Backchannel";

    private readonly string _backchannelSecret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>Whether <paramref name="request"/> is one of this gateway's own calls (compared in constant time).</summary>
    public bool IsBackchannel(HttpRequest request)
        => request.Headers[BackchannelHeader] is [{ } value]
            && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(value), System.Text.Encoding.ASCII.GetBytes(_backchannelSecret));

    // A renewal per refresh token at a time: the token works once (no reuse leeway), so two API calls of one page that both find
    // the access token expired must share the answer, or the second would end the grant.
    private readonly ConcurrentDictionary<string, Lazy<Task<ConsoleTokenSet?>>> _renewals = new();

    public Task<ConsoleTokenSet?> RedeemAsync(string code, string verifier, Uri redirectUri, CancellationToken cancellationToken)
        => RequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = FirstPartyClients.Console,
            ["code"] = code,
            ["code_verifier"] = verifier,
            ["redirect_uri"] = redirectUri.AbsoluteUri,
        }, cancellationToken);

    public async Task<ConsoleTokenSet?> RenewAsync(string refreshToken, CancellationToken cancellationToken)
    {
        var renewal = _renewals.GetOrAdd(refreshToken, token => new Lazy<Task<ConsoleTokenSet?>>(() => RequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["client_id"] = FirstPartyClients.Console,
            ["refresh_token"] = token,
        }, CancellationToken.None)));
        try
        {
            return await renewal.Value.WaitAsync(cancellationToken);
        }
        finally
        {
            // Late callers within a minute still get the shared answer; then the entry goes.
            _ = Task.Delay(TimeSpan.FromMinutes(1), clock, CancellationToken.None).ContinueWith(_ => _renewals.TryRemove(refreshToken, out var _), TaskScheduler.Default);
        }
    }

    public async Task RevokeAsync(string token, CancellationToken cancellationToken)
    {
        using var http = Client();
        using var answer = await http.PostAsync(TokenServicePaths.Revoke, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = FirstPartyClients.Console,
            ["token"] = token,
            ["token_type_hint"] = "refresh_token",
        }), cancellationToken);
        if (!answer.IsSuccessStatusCode)
            logger.LogWarning("The console's sign-out could not revoke its grant: {Status}", (int)answer.StatusCode);
    }

    private async Task<ConsoleTokenSet?> RequestAsync(Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        using var http = Client();
        JsonElement body;
        HttpResponseMessage answer;
        try
        {
            answer = await http.PostAsync(TokenServicePaths.Token, new FormUrlEncodedContent(form), cancellationToken);
            body = await answer.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The console's {Grant} could not reach the token service", form["grant_type"]);
            return null;
        }
        using var _ = answer;
        if (!answer.IsSuccessStatusCode || body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("access_token", out var access))
        {
            logger.LogInformation("The console's {Grant} was refused: {Error}", form["grant_type"],
                body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var error) ? error.GetString() : ((int)answer.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return null;
        }
        var lifetime = body.TryGetProperty("expires_in", out var expiresIn) && expiresIn.TryGetInt32(out var seconds) ? seconds : 300;
        return new ConsoleTokenSet(access.GetString()!, body.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null,
            clock.GetUtcNow().AddSeconds(lifetime));
    }

    private HttpClient Client()
    {
        var client = httpClients.CreateClient(HttpClientName);
        client.BaseAddress = new Uri(BoundAddress.Of(server) + "/");
        client.DefaultRequestHeaders.Add(BackchannelHeader, _backchannelSecret);
        return client;
    }
}
