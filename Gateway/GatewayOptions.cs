namespace OpenHvx.Gateway;

/// <summary>Settings of the gateway (section <c>Gateway</c>; OPENHVX_ORCHESTRATOR_URL, OPENHVX_ISSUER, OPENHVX_ADMIN_PASSWORD).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>
    /// The orchestrators every <c>/api/v1/admin/**</c> and <c>/api/v1/tenant/**</c> request is proxied to: one URL, or several separated
    /// by commas that share the requests (see <see cref="Proxy.OrchestratorAddresses"/>).
    /// </summary>
    public string? OrchestratorUrl { get; set; }

    /// <summary>Health checks that take an orchestrator out of the rotation and put it back.</summary>
    public Proxy.OrchestratorHealthOptions OrchestratorHealth { get; set; } = new();

    /// <summary>
    /// The <c>iss</c> of every token and of discovery: set the public URL in production, so that a token is the same whichever host
    /// issued it and standard clients find the URL they discovered. Unset, the address the gateway listens on (see <see cref="Identity.TokenIssuer"/>).
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The identity store: users, service clients, refresh tokens, signing keys (SQLite).</summary>
    public string Database { get; set; } = ".openhvx/gateway.db";

    /// <summary>
    /// The Data Protection key ring that encrypts the token keys in the identity store; keep it apart from the store's
    /// backups. Default: a <c>keyring</c> folder beside the store.
    /// </summary>
    public string? KeyRingPath { get; set; }

    /// <summary>A PFX certificate that encrypts the key ring itself (without one the ring's files are plain XML, readable by the gateway's user only).</summary>
    public string? KeyRingCertificate { get; set; }
    public string? KeyRingCertificatePassword { get; set; }

    public string KeyRingDirectory => KeyRingPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Database))!, "keyring");

    /// <summary>The bootstrap admin's password (user <c>admin</c>), used when that user is first created.</summary>
    public string? AdminPassword { get; set; }

    /// <summary>When no admin password is configured: generate one and print it once (DevHost), or refuse to start.</summary>
    public bool GenerateAdminPassword { get; set; }

    /// <summary>Host prefixes that decide the audience; other hosts (localhost, an IP) go by path.</summary>
    public List<string> AdminHostPrefixes { get; set; } = ["api-admin.", "admin-api."];
    public List<string> TenantHostPrefixes { get; set; } = ["api."];

    public TimeSpan AdminTokenLifetime { get; set; } = TimeSpan.FromMinutes(30);
    public TimeSpan TenantTokenLifetime { get; set; } = TimeSpan.FromHours(8);
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// How long a rotated-in signing key is published before it signs, so that every service validating our tokens has
    /// read it by then (the orchestrator reads the keys at each revocation poll).
    /// </summary>
    public TimeSpan SigningKeyLead { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the revocation list and the signing keys are read again from the identity store (this gateway's own changes apply at once).</summary>
    public TimeSpan StoreRefresh { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>No access token of ours lives longer: revocations older than this are forgotten.</summary>
    public TimeSpan LongestAccessTokenLifetime => new[] { AdminTokenLifetime, TenantTokenLifetime, Federation.InternalTokens.Lifetime }.Max();

    /// <summary>
    /// A proxied request or response that moves no byte for this long is cut (YARP's activity timeout). Task event streams send a
    /// keep-alive more often (Orchestrator:EventStreams:KeepAlive), so only a dead one is cut.
    /// </summary>
    public TimeSpan ProxyActivityTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Requests with a larger body get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Per tenant on the API: every user and service client of a tenant share one bucket.</summary>
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Per tenant: requests in progress and request-body bytes per second.</summary>
    public Proxy.FairnessOptions Fairness { get; set; } = new();

    /// <summary>Per admin (subject) on the API.</summary>
    public RateLimitOptions AdminRateLimit { get; set; } = new() { TokenLimit = 1000, TokensPerPeriod = 500 };

    /// <summary>Per client address on <c>/connect/token</c> (password guessing).</summary>
    public RateLimitOptions TokenRateLimit { get; set; } = new() { TokenLimit = 20, TokensPerPeriod = 5 };

    /// <summary>Failed password sign-ins, per account and address, per address, per account (see <see cref="Identity.SignInGuard"/>).</summary>
    public Identity.SignInLimitOptions SignIn { get; set; } = new();

    /// <summary>
    /// Proxies (addresses or CIDR networks) in front of the gateway whose <c>X-Forwarded-For</c> names the client's
    /// address, which the per-address limits use; none by default (the connection's address counts).
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>Inbound headers that claim an identity: removed before anything reads them or the request is proxied.</summary>
    public List<string> StrippedHeaders { get; set; } =
    [
        "X-Tenant-Id", "X-Roles", "X-Role", "X-User-Id", "X-User", "X-User-Name", "X-Scopes", "X-Client-Id",
        "X-Forwarded-User", "X-Forwarded-Email", "X-Remote-User", "Remote-User", "X-Auth-Request-User", "X-Auth-Request-Email",
        "X-Ms-Client-Principal", "X-Ms-Client-Principal-Id", "X-Ms-Client-Principal-Name",
    ];
}

/// <summary>A token bucket: up to <see cref="TokenLimit"/> requests at once, refilled by <see cref="TokensPerPeriod"/> each period.</summary>
public sealed class RateLimitOptions
{
    public int TokenLimit { get; set; } = 200;
    public int TokensPerPeriod { get; set; } = 100;
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);
}
