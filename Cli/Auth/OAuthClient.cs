using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// The OAuth 2.0 client side of the CLI, a public client (<see cref="ClientId"/>, no secret): discovery, the password grant, the
/// device authorization grant (RFC 8628) and refresh. Endpoints come from the discovery document.
/// </summary>
public sealed class OAuthClient(HttpClient http)
{
    public const string ClientId = "openhvx-cli";
    public const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
    private const string Scope = "offline_access";

    /// <param name="Issuer">the token service's issuer: the resources (RFC 8707) are named after it</param>
    public sealed record Discovery(string Issuer, string TokenEndpoint, string? DeviceAuthorizationEndpoint, string? RevocationEndpoint);

    public sealed record TokenResponse(string AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt);

    public sealed record DeviceAuthorization(string DeviceCode, string UserCode, string VerificationUri, string? VerificationUriComplete, int Interval, DateTimeOffset ExpiresAt);

    private sealed record OAuthError(string Error, string? Description);

    /// <summary>
    /// The discovery document of the gateway at <paramref name="url"/>. Its endpoints are used at <paramref name="url"/>'s own origin
    /// whatever host they name: a gateway whose issuer is another address (a wildcard binding, a proxy) must never make the CLI send a
    /// password or a refresh token to a host the user did not name.
    /// </summary>
    public async Task<Discovery> DiscoverAsync(string url, CancellationToken cancellationToken)
    {
        var address = url.TrimEnd('/') + TokenServicePaths.Discovery;
        var document = await GetJsonAsync(address, cancellationToken);
        string? Read(string name) => document.ValueKind == JsonValueKind.Object && document.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() : null;
        if (Read("issuer") is not { } issuer || Read("token_endpoint") is not { } token || !Uri.TryCreate(issuer, UriKind.Absolute, out _))
            throw new CliException(ExitCodes.Unavailable, $"{address} is not an OpenHVX discovery document (no issuer or token_endpoint): is {url} an OpenHVX gateway?");
        var origin = new Uri(url);
        string? AtGateway(string? endpoint) => endpoint is null ? null : Rebase(origin, endpoint);
        return new(issuer, AtGateway(token)!, AtGateway(Read("device_authorization_endpoint")), AtGateway(Read("revocation_endpoint")));
    }

    /// <summary><paramref name="endpoint"/>'s path and query at <paramref name="origin"/>'s scheme, host and port.</summary>
    public static string Rebase(Uri origin, string endpoint)
        => Uri.TryCreate(endpoint, UriKind.Absolute, out var named) ? new UriBuilder(named) { Scheme = origin.Scheme, Host = origin.Host, Port = origin.Port }.Uri.ToString()
            : throw new CliException(ExitCodes.Unavailable, $"The discovery document names '{endpoint}', which is not an absolute URL.");

    /// <summary>The standard <c>resource</c> parameter (RFC 8707) naming the API surface the token is for, after the issuer as the gateway names it.</summary>
    public static string? Resource(Discovery discovery, string? audience) => audience is null ? null : $"{discovery.Issuer.TrimEnd('/')}/api/v1/{audience}";

    /// <summary>Ends the login's grant at the token service (RFC 7009): the refresh token, and the access tokens issued with it.</summary>
    public async Task RevokeAsync(Discovery discovery, string refreshToken, CancellationToken cancellationToken)
    {
        if (discovery.RevocationEndpoint is not { } endpoint)
            throw new CliException(ExitCodes.Unavailable, "This gateway offers no revocation endpoint.");
        using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(With(null,
            ("token", refreshToken), ("token_type_hint", "refresh_token"))), cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw Refused(ErrorOf(await ReadJsonAsync(response, cancellationToken), response));
    }

    public async Task<TokenResponse> PasswordAsync(Discovery discovery, string username, string password, string? resource, CancellationToken cancellationToken)
    {
        var (token, error) = await RequestTokenAsync(discovery.TokenEndpoint, With(resource,
            ("grant_type", "password"), ("username", username), ("password", password), ("scope", Scope)), cancellationToken);
        return token ?? throw Refused(error!);
    }

    public async Task<TokenResponse> RefreshAsync(string tokenEndpoint, string refreshToken, CancellationToken cancellationToken)
    {
        var (token, error) = await RequestTokenAsync(tokenEndpoint, With(null, ("grant_type", "refresh_token"), ("refresh_token", refreshToken)), cancellationToken);
        return token ?? throw new CliException(ExitCodes.Auth, $"The stored login could not be renewed ({Describe(error!)}); run `openhvx login` again.");
    }

    public async Task<DeviceAuthorization> StartDeviceAsync(Discovery discovery, string? resource, CancellationToken cancellationToken)
    {
        if (discovery.DeviceAuthorizationEndpoint is not { } endpoint)
            throw new CliException(ExitCodes.Usage, "This gateway offers no device authorization endpoint; sign in with `openhvx login --password`.");
        using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(With(resource, ("scope", Scope))), cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode || body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("device_code", out _))
            throw Refused(ErrorOf(body, response));
        var now = DateTimeOffset.UtcNow;
        return new(
            body.GetProperty("device_code").GetString()!, body.GetProperty("user_code").GetString()!,
            Rebase(new Uri(discovery.TokenEndpoint), body.GetProperty("verification_uri").GetString()!),
            body.TryGetProperty("verification_uri_complete", out var complete) ? Rebase(new Uri(discovery.TokenEndpoint), complete.GetString()!) : null,
            body.TryGetProperty("interval", out var interval) && interval.TryGetInt32(out var seconds) ? seconds : 5,
            now.AddSeconds(body.TryGetProperty("expires_in", out var expires) && expires.TryGetInt32(out var life) ? life : 600));
    }

    /// <summary>Polls the token endpoint as RFC 8628 §3.4-3.5 says: at the interval, slower on slow_down, until a token or a final error.</summary>
    public async Task<TokenResponse> PollDeviceAsync(Discovery discovery, DeviceAuthorization device, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, device.Interval));
        while (true)
        {
            if (DateTimeOffset.UtcNow > device.ExpiresAt)
                throw new CliException(ExitCodes.Auth, "The sign-in code expired before it was approved; run `openhvx login` again.");
            await Task.Delay(interval, cancellationToken);
            var (token, error) = await RequestTokenAsync(discovery.TokenEndpoint, With(null, ("grant_type", DeviceCodeGrant), ("device_code", device.DeviceCode)), cancellationToken);
            if (token is not null)
                return token;
            switch (error!.Error)
            {
                case "authorization_pending":
                    continue;
                case "slow_down":
                    interval += TimeSpan.FromSeconds(5);
                    continue;
                case "expired_token":
                    throw new CliException(ExitCodes.Auth, "The sign-in code expired before it was approved; run `openhvx login` again.");
                case "access_denied":
                    throw new CliException(ExitCodes.Auth, "The sign-in was denied.");
                default:
                    throw Refused(error);
            }
        }
    }

    private static Dictionary<string, string> With(string? resource, params (string Name, string Value)[] fields)
    {
        var form = fields.ToDictionary(f => f.Name, f => f.Value);
        form["client_id"] = ClientId;
        if (resource is not null)
            form["resource"] = resource;
        return form;
    }

    private async Task<(TokenResponse? Token, OAuthError? Error)> RequestTokenAsync(string endpoint, Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(form), cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode || body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("access_token", out var access))
            return (null, ErrorOf(body, response));
        var expiresIn = body.TryGetProperty("expires_in", out var e) && e.TryGetInt64(out var s) ? s : 300;
        return (new TokenResponse(access.GetString()!, body.TryGetProperty("refresh_token", out var r) ? r.GetString() : null,
            DateTimeOffset.UtcNow.AddSeconds(expiresIn)), null);
    }

    private async Task<JsonElement> GetJsonAsync(string url, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new CliException((int)response.StatusCode >= 500 ? ExitCodes.Unavailable : ExitCodes.NotFound, $"GET {url} answered {(int)response.StatusCode}.");
        return await ReadJsonAsync(response, cancellationToken);
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        catch (JsonException)
        {
            return default;
        }
    }

    /// <summary>An OAuth error (<c>error</c>, <c>error_description</c>), or the API's problem (a rate limit) read as one.</summary>
    private static OAuthError ErrorOf(JsonElement body, HttpResponseMessage response)
        => body.ValueKind != JsonValueKind.Object ? new($"http_{(int)response.StatusCode}", null)
        : body.TryGetProperty("error", out var error) ? new(error.GetString() ?? "error", body.TryGetProperty("error_description", out var d) ? d.GetString() : null)
        : new(body.TryGetProperty("code", out var code) ? code.GetString() ?? "error" : $"http_{(int)response.StatusCode}", body.TryGetProperty("detail", out var detail) ? detail.GetString() : null);

    private static string Describe(OAuthError error) => error.Description is null ? error.Error : $"{error.Error}: {error.Description}";

    private static CliException Refused(OAuthError error) => new(
        error.Error is ErrorCodes.RateLimited ? ExitCodes.Unavailable : error.Error is "invalid_request" or "unsupported_grant_type" ? ExitCodes.Usage : ExitCodes.Auth,
        $"Sign-in refused: {Describe(error)}");
}
