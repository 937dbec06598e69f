using OpenHvx.Contracts;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// Who the CLI calls the API as: <c>OPENHVX_URL</c> + <c>OPENHVX_TOKEN</c> when set (never refreshed), else the stored login,
/// refreshed shortly before its access token expires (or after one 401) with the new refresh token stored.
/// </summary>
public sealed class Session
{
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(30);

    private readonly CredentialStore? _store;
    private readonly OAuthClient _oauth;
    private Credentials? _stored;
    private string _accessToken;

    private Session(string url, string accessToken, CredentialStore? store, Credentials? stored, OAuthClient oauth)
    {
        Url = url.TrimEnd('/');
        _accessToken = accessToken;
        _store = store;
        _stored = stored;
        _oauth = oauth;
    }

    public string Url { get; }

    public bool CanRefresh => _stored?.RefreshToken is not null;

    /// <summary><c>admin</c> or <c>tenant</c>: which half of the API this token may call.</summary>
    public string Audience => JwtClaims.Read(_accessToken).Audience ?? Audiences.Tenant;

    public bool IsAdmin => Audience == Audiences.Admin;

    /// <summary>The API's routes for this token: <c>{url}/api/v1/admin</c> or <c>{url}/api/v1/tenant</c>.</summary>
    public string ApiBase => $"{Url}/api/v1/{Audience}";

    public static Session Open(CliEnvironment environment, HttpClient http)
    {
        var oauth = new OAuthClient(http);
        if (environment[CliEnvironment.Token] is { } token)
        {
            var url = environment[CliEnvironment.Url]
                ?? throw new CliException(ExitCodes.Auth, $"{CliEnvironment.Token} is set but {CliEnvironment.Url} is not: set both.");
            return new Session(url, token, null, null, oauth);
        }
        var store = new CredentialStore(environment.ConfigFolder);
        var stored = store.Load()
            ?? throw new CliException(ExitCodes.Auth, $"Not signed in: run `openhvx login --url <gateway>` (or set {CliEnvironment.Url} and {CliEnvironment.Token}).");
        return new Session(stored.Url, stored.AccessToken, store, stored, oauth);
    }

    public async Task<string> AccessTokenAsync(CancellationToken cancellationToken)
    {
        if (_stored is { } stored && CanRefresh && stored.ExpiresAt - Skew <= DateTimeOffset.UtcNow)
            await RefreshAsync(cancellationToken);
        return _accessToken;
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_stored is not { RefreshToken: not null } || _store is null)
            throw new CliException(ExitCodes.Auth, "The token was refused and cannot be renewed here; sign in again.");
        _stored = await _store.ExclusiveAsync(async () =>
        {
            // Another command may have renewed the login while this one waited: its tokens are the ones to use.
            var current = _store.Load() ?? throw new CliException(ExitCodes.Auth, "Signed out meanwhile: run `openhvx login` again.");
            if (current.RefreshToken != _stored.RefreshToken && current.ExpiresAt - Skew > DateTimeOffset.UtcNow)
                return current;
            var refreshToken = current.RefreshToken ?? throw new CliException(ExitCodes.Auth, "The stored login cannot be renewed; run `openhvx login` again.");
            var renewed = await _oauth.RefreshAsync(current.TokenEndpoint, refreshToken, cancellationToken);
            // A refresh token works once: the new one is stored before anything else can fail.
            var next = current with { AccessToken = renewed.AccessToken, RefreshToken = renewed.RefreshToken ?? refreshToken, ExpiresAt = renewed.ExpiresAt };
            _store.Save(next);
            return next;
        }, cancellationToken);
        _accessToken = _stored.AccessToken;
    }
}
