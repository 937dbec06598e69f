using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Federation;
using OpenHvx.Gateway.Identity;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// Who may do what, over real HTTP through the gateway to the orchestrator (which checks every token again).
/// Tenants alpha and beta each own a VM; gamma is disabled.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class GatewaySecurityTests : DevHostFixture
{
    private readonly Dictionary<string, string> _tokens = [];
    private readonly Dictionary<string, string> _ids = [];

    /// <summary>One request: who calls (a key of the tokens made in setup, or "none"), how, and where.</summary>
    /// <param name="Direct">straight to the orchestrator, past the gateway: it must refuse on its own</param>
    public sealed record Probe(string Name, string Caller, string Method, string Path, object? Body = null, string? Host = null,
        IReadOnlyDictionary<string, string>? Headers = null, bool Direct = false)
    {
        public override string ToString() => Name;
    }

    private static readonly object CreateVm = new { action = "vm.create", data = new { name = "probe-vm", cpu = 1, ram = "1GB" } };

    private static TestCaseData Case(Probe probe, HttpStatusCode status, string? code = null)
        => new TestCaseData(probe, status, code).SetName($"{probe.Name} -> {(int)status}{(code is null ? "" : " " + code)}");

    public static IEnumerable<TestCaseData> Probes()
    {
        const string tasks = "/api/v1/tenant/tasks";
        // Authentication: only our unexpired, untampered RS256 tokens.
        yield return Case(new("no token", "none", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("expired token", "expired", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tampered payload", "tampered-payload", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tampered signature", "tampered-signature", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("alg none", "alg-none", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("signed by another key", "foreign-key", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("HMAC with the public key", "hmac", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("another issuer", "foreign-issuer", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("minted with the real key (control)", "minted", "GET", tasks), HttpStatusCode.OK);

        // Audience by route and by host.
        yield return Case(new("admin token on a tenant route", "admin", "GET", tasks), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("admin token on the tenant host", "admin", "GET", "/api/v1/admin/tenants", Host: "api.example.com"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tenant token on an admin route", "alpha-rw", "GET", "/api/v1/admin/tenants"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tenant token on the admin host", "alpha-rw", "GET", tasks, Host: "api-admin.example.com"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tenant token on the other admin host", "alpha-rw", "GET", tasks, Host: "admin-api.example.com"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("admin token on the admin host", "admin", "GET", "/api/v1/admin/tenants", Host: "api-admin.example.com"), HttpStatusCode.OK);
        yield return Case(new("tenant token on the tenant host", "alpha-rw", "GET", tasks, Host: "api.example.com"), HttpStatusCode.OK);
        yield return Case(new("tenant path on the admin host", "admin", "GET", tasks, Host: "api-admin.example.com"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");

        // Roles and scopes.
        yield return Case(new("read-only user submits", "alpha-r", "POST", tasks, CreateVm), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("read-only user reads its tenant's task", "alpha-r", "GET", tasks + "/{alphaTask}"), HttpStatusCode.OK);
        yield return Case(new("read-only service client submits", "alpha-ci", "POST", tasks, CreateVm), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("read-only service client reads", "alpha-ci", "GET", tasks + "/{alphaTask}"), HttpStatusCode.OK);
        yield return Case(new("token narrowed to read scope submits", "alpha-rw-readscope", "POST", tasks, CreateVm), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");

        // Tenant isolation: another tenant's things do not exist.
        yield return Case(new("tenant reads another tenant's task", "alpha-rw", "GET", tasks + "/{betaTask}"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        yield return Case(new("tenant reads another tenant's resource", "alpha-rw", "GET", "/api/v1/tenant/resources/{betaVm}"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        yield return Case(new("tenant reads its own resource", "beta-rw", "GET", "/api/v1/tenant/resources/{betaVm}"), HttpStatusCode.OK);
        yield return Case(new("tenant targets another tenant's VM", "alpha-rw", "POST", tasks,
            new { action = "vm.power", target = new { kind = "vm", refId = "{betaVm}" }, data = new { state = "stop" } }), HttpStatusCode.NotFound, "ERR_NOT_FOUND");

        // Anti-spoofing: identity headers and body fields change nothing.
        yield return Case(new("spoofed X-Tenant-Id reads another tenant's task", "alpha-rw", "GET", tasks + "/{betaTask}",
            Headers: new Dictionary<string, string> { ["X-Tenant-Id"] = "beta", ["X-User-Id"] = "beta-rw" }), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        yield return Case(new("spoofed X-Roles submits", "alpha-r", "POST", tasks, CreateVm,
            Headers: new Dictionary<string, string> { ["X-Roles"] = "tenant-admin,global-admin", ["X-Tenant-Id"] = "beta" }), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("body names another tenant", "alpha-rw", "POST", tasks,
            new { tenantId = "beta", action = "vm.create", data = new { name = "x", cpu = 1, ram = "1GB" } }), HttpStatusCode.Forbidden, "ERR_TENANT_MISMATCH");
        yield return Case(new("admin submits without tenantId", "admin", "POST", "/api/v1/admin/tasks", CreateVm), HttpStatusCode.BadRequest, "ERR_TENANT_REQUIRED");

        // A disabled tenant's users are refused everything.
        yield return Case(new("disabled tenant reads", "gamma-rw", "GET", tasks), HttpStatusCode.Forbidden, "ERR_TENANT_DISABLED");
        yield return Case(new("disabled tenant submits", "gamma-rw", "POST", tasks, CreateVm), HttpStatusCode.Forbidden, "ERR_TENANT_DISABLED");
        yield return Case(new("disabled tenant's admin creates a user", "gamma-admin", "POST", "/api/v1/tenant/users",
            new { username = "gamma-new", password = "a-long-password-1", roles = new[] { "tenant-user-r" } }), HttpStatusCode.Forbidden, "ERR_TENANT_DISABLED");

        // Users: a tenant-admin creates users of its own tenant with tenant roles only.
        yield return Case(new("writer creates a user", "alpha-rw", "POST", "/api/v1/tenant/users",
            new { username = "alpha-new1", password = "a-long-password-1", roles = new[] { "tenant-user-r" } }), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("tenant-admin grants global-admin", "alpha-admin", "POST", "/api/v1/tenant/users",
            new { username = "alpha-new2", password = "a-long-password-1", roles = new[] { "global-admin" } }), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("tenant-admin creates a user in another tenant", "alpha-admin", "POST", "/api/v1/tenant/users",
            new { username = "alpha-new3", password = "a-long-password-1", tenantId = "beta", roles = new[] { "tenant-user-r" } }), HttpStatusCode.Forbidden, "ERR_TENANT_MISMATCH");
        yield return Case(new("tenant-admin creates a reader", "alpha-admin", "POST", "/api/v1/tenant/users",
            new { username = "alpha-new4", password = "a-long-password-1", roles = new[] { "tenant-user-r" } }), HttpStatusCode.Created);
        yield return Case(new("tenant token creates an admin user", "alpha-admin", "POST", "/api/v1/admin/users",
            new { username = "evil", password = "a-long-password-1", roles = new[] { "global-admin" } }), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");

        // Task event streams: as the task routes (a task that has ended streams its events and ends).
        yield return Case(new("no token streams events", "none", "GET", "/api/v1/tenant/events"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("read-only user streams its tenant's task events", "alpha-r", "GET", tasks + "/{alphaTask}/events"), HttpStatusCode.OK);
        yield return Case(new("read-only service client streams task events", "alpha-ci", "GET", tasks + "/{alphaTask}/events"), HttpStatusCode.OK);
        yield return Case(new("tenant streams another tenant's task events", "alpha-rw", "GET", tasks + "/{betaTask}/events"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        yield return Case(new("disabled tenant streams events", "gamma-rw", "GET", "/api/v1/tenant/events"), HttpStatusCode.Forbidden, "ERR_TENANT_DISABLED");
        yield return Case(new("admin token on the tenant event stream", "admin", "GET", "/api/v1/tenant/events"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("tenant token on the admin event stream", "alpha-rw", "GET", "/api/v1/admin/events"), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("admin streams any tenant's task events", "admin", "GET", "/api/v1/admin/tasks/{betaTask}/events"), HttpStatusCode.OK);

        // The orchestrator, reached without the gateway, checks every token itself.
        yield return Case(new("direct: no token", "none", "GET", tasks, Direct: true), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("direct: alg none", "alg-none", "GET", tasks, Direct: true), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("direct: signed by another key", "foreign-key", "GET", tasks, Direct: true), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("direct: expired token", "expired", "GET", tasks, Direct: true), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("direct: tenant token on an admin route", "alpha-rw", "GET", "/api/v1/admin/tenants", Direct: true), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("direct: admin token on a tenant route", "admin", "GET", tasks, Direct: true), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("direct: read-only user submits", "alpha-r", "POST", tasks, CreateVm, Direct: true), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("direct: spoofed X-Tenant-Id", "alpha-rw", "GET", tasks + "/{betaTask}", Direct: true,
            Headers: new Dictionary<string, string> { ["X-Tenant-Id"] = "beta" }), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        yield return Case(new("direct: valid tenant token", "alpha-rw", "GET", tasks + "/{alphaTask}", Direct: true), HttpStatusCode.OK);
        yield return Case(new("direct: no token streams events", "none", "GET", "/api/v1/tenant/events", Direct: true), HttpStatusCode.Unauthorized, "ERR_UNAUTHENTICATED");
        yield return Case(new("direct: tenant token on the admin event stream", "alpha-rw", "GET", "/api/v1/admin/events", Direct: true), HttpStatusCode.Forbidden, "ERR_FORBIDDEN");
        yield return Case(new("direct: tenant streams another tenant's task events", "alpha-rw", "GET", tasks + "/{betaTask}/events", Direct: true), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
    }

    [OneTimeSetUp]
    public async Task CreateTenantsUsersAndVmsAsync()
    {
        foreach (var tenant in new[] { "alpha", "beta", "gamma" })
            Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = tenant, name = tenant })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        _tokens["admin"] = Client.DefaultRequestHeaders.Authorization!.Parameter!;
        foreach (var (user, tenant, role) in new[]
                 {
                     ("alpha-rw", "alpha", "tenant-user-rw"), ("alpha-r", "alpha", "tenant-user-r"), ("alpha-admin", "alpha", "tenant-admin"),
                     ("beta-rw", "beta", "tenant-user-rw"), ("gamma-rw", "gamma", "tenant-user-rw"), ("gamma-admin", "gamma", "tenant-admin"),
                 })
        {
            using var client = await Tokens.TenantClientAsync(Client, DevHost.Url, user, tenant, role);
            _tokens[user] = client.DefaultRequestHeaders.Authorization!.Parameter!;
        }
        _tokens["alpha-rw-readscope"] = (await Tokens.RequestAsync(DevHost.Url, new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "alpha-rw", ["password"] = "alpha-rw-password-1", ["audience"] = "tenant", ["scope"] = "openhvx.read",
        })).GetProperty("access_token").GetString()!;

        var ci = await (await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "alpha-ci", tenantId = "alpha", roles = new[] { "tenant-user-r" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        _tokens["alpha-ci"] = (await Tokens.RequestAsync(DevHost.Url, new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "alpha-ci", ["client_secret"] = ci.GetProperty("clientSecret").GetString()!, ["audience"] = "tenant",
        })).GetProperty("access_token").GetString()!;

        Assert.That((await Client.PatchAsJsonAsync("/api/v1/admin/tenants/gamma", new { status = "disabled" })).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var (betaTask, betaVm) = await CreateVmAsTenantAsync("beta-rw", "beta-vm");
        _ids["betaTask"] = betaTask;
        _ids["betaVm"] = betaVm;
        var (alphaTask, _) = await CreateVmAsTenantAsync("alpha-rw", "alpha-vm");
        _ids["alphaTask"] = alphaTask;

        ForgeTokens();
    }

    private async Task<(string TaskId, string VmId)> CreateVmAsTenantAsync(string user, string name)
    {
        using var tenant = Tokens.Client(DevHost.Url, _tokens[user]);
        var accepted = await tenant.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name, cpu = 1, ram = "1GB" } });
        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await accepted.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => tenant.GetFromJsonAsync<JsonElement>(accepted.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(60), $"{name} is created");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        return (task.GetProperty("taskId").GetString()!, task.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!);
    }

    /// <summary>Tokens an attacker could make, next to one minted exactly as the gateway does (the control case).</summary>
    private void ForgeTokens()
    {
        var key = DevHost.GatewayServices.GetRequiredService<IdentityKeys>().SigningKey;
        var issuer = DevHost.GatewayServices.GetRequiredService<TokenIssuer>().Current!.AbsoluteUri;
        var now = DateTime.UtcNow;
        string Mint(SecurityKey signingKey, string algorithm, DateTime issuedAt, DateTime expires, string? iss = null) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = iss ?? issuer,
            Audience = "tenant",
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = expires,
            TokenType = "at+jwt",
            Claims = new Dictionary<string, object>
            {
                ["sub"] = "alpha-rw", ["tenant_id"] = "alpha", ["role"] = new[] { "tenant-user-rw" }, ["scope"] = "openhvx.read openhvx.write",
            },
            SigningCredentials = new SigningCredentials(signingKey, algorithm),
        });

        // Issued now: a token issued before its tenant was created is refused (it belongs to an earlier tenant of that id).
        _tokens["minted"] = Mint(key, SecurityAlgorithms.RsaSha256, now, now.AddMinutes(10));
        _tokens["expired"] = Mint(key, SecurityAlgorithms.RsaSha256, now.AddHours(-2), now.AddHours(-1));
        _tokens["foreign-issuer"] = Mint(key, SecurityAlgorithms.RsaSha256, now.AddMinutes(-1), now.AddMinutes(10), "https://evil.example.com/");
        var foreign = new RsaSecurityKey(RSA.Create(2048)) { KeyId = key.KeyId };
        _tokens["foreign-key"] = Mint(foreign, SecurityAlgorithms.RsaSha256, now.AddMinutes(-1), now.AddMinutes(10));
        // The classic confusion attack: HMAC keyed with the public key's bytes.
        var publicKey = new SymmetricSecurityKey(key.Rsa.ExportSubjectPublicKeyInfo()) { KeyId = key.KeyId };
        _tokens["hmac"] = Mint(publicKey, SecurityAlgorithms.HmacSha256, now.AddMinutes(-1), now.AddMinutes(10));

        var real = _tokens["alpha-rw"].Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64UrlEncoder.Decode(real[1]))!;
        payload["tenant_id"] = JsonSerializer.SerializeToElement("beta");
        _tokens["tampered-payload"] = $"{real[0]}.{Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload))}.{real[2]}";
        var signature = real[2].ToCharArray();
        signature[10] = signature[10] == 'A' ? 'B' : 'A';
        _tokens["tampered-signature"] = $"{real[0]}.{real[1]}.{new string(signature)}";
        _tokens["alg-none"] = $"{Base64UrlEncoder.Encode("""{"alg":"none","typ":"at+jwt"}""")}.{real[1]}.";
    }

    private async Task<HttpResponseMessage> SendAsync(Probe probe)
    {
        var path = _ids.Aggregate(probe.Path, (p, id) => p.Replace("{" + id.Key + "}", id.Value));
        var request = new HttpRequestMessage(new HttpMethod(probe.Method), (probe.Direct ? DevHost.App.CoreUrl : DevHost.Url) + path);
        if (probe.Body is not null)
        {
            var body = _ids.Aggregate(JsonSerializer.Serialize(probe.Body), (b, id) => b.Replace("{" + id.Key + "}", id.Value));
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (probe.Caller != "none")
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens[probe.Caller]);
        if (probe.Host is not null)
            request.Headers.Host = probe.Host;
        foreach (var (name, value) in probe.Headers ?? new Dictionary<string, string>())
            request.Headers.TryAddWithoutValidation(name, value);
        using var http = new HttpClient();
        return await http.SendAsync(request);
    }

    [TestCaseSource(nameof(Probes))]
    public async Task Access(Probe probe, HttpStatusCode status, string? code)
    {
        var response = await SendAsync(probe);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        if (code is not null)
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
            Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo(code));
        }
    }

    [Test]
    public async Task A_tenant_lists_only_its_own_tasks_and_resources_without_placement_details()
    {
        using var alpha = Tokens.Client(DevHost.Url, _tokens["alpha-rw"]);
        var tasks = await alpha.GetFromJsonAsync<JsonElement>("/api/v1/tenant/tasks?tenantId=beta&limit=500");
        var items = tasks.GetProperty("items").EnumerateArray().ToList();
        Assert.That(items, Is.Not.Empty);
        Assert.That(items.Select(t => t.GetProperty("tenantId").GetString()), Is.All.EqualTo("alpha"));
        Assert.That(items.Select(t => t.GetProperty("taskId").GetString()), Does.Not.Contain(_ids["betaTask"]));
        Assert.That(items.Any(t => t.TryGetProperty("agentId", out _) || t.TryGetProperty("placement", out _)), Is.False);

        var resources = (await alpha.GetFromJsonAsync<JsonElement>("/api/v1/tenant/resources")).EnumerateArray().ToList();
        Assert.That(resources.Select(r => r.GetProperty("tenantId").GetString()), Is.All.EqualTo("alpha"));
        Assert.That(resources.Select(r => r.GetProperty("resourceId").GetString()), Does.Not.Contain(_ids["betaVm"]));
        Assert.That(resources.Any(r => r.TryGetProperty("agentId", out _)), Is.False);

        // The admin sees where it runs.
        var asAdmin = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{_ids["alphaTask"]}");
        Assert.That(asAdmin.GetProperty("agentId").GetString(), Is.EqualTo(TestDevHost.AgentId));
    }

    [Test]
    public async Task A_tenant_user_creates_a_vm_through_the_gateway_and_it_succeeds()
    {
        using var alpha = Tokens.Client(DevHost.Url, _tokens["alpha-rw"]);
        var (taskId, vmId) = await CreateVmAsTenantAsync("alpha-rw", "alpha-e2e");

        var task = await alpha.GetFromJsonAsync<JsonElement>($"/api/v1/tenant/tasks/{taskId}");
        Assert.That(task.GetProperty("tenantId").GetString(), Is.EqualTo("alpha"));
        var resource = await alpha.GetFromJsonAsync<JsonElement>($"/api/v1/tenant/resources/{vmId}");
        Assert.That(resource.GetProperty("name").GetString(), Is.EqualTo("alpha-e2e"));
        var quota = await alpha.GetFromJsonAsync<JsonElement>("/api/v1/tenant/quotas");
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.GreaterThanOrEqualTo(2));
        Assert.That((await AgentHost.VmsAsync(DevHost.Services)).Any(v => v.GetProperty("id").GetString() == vmId), Is.True, "the VM exists on the simulated host");
    }

    [Test]
    public async Task A_tenant_refused_for_lack_of_capacity_learns_nothing_about_the_agents()
    {
        using var alpha = Tokens.Client(DevHost.Url, _tokens["alpha-rw"]);
        var refused = await alpha.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name = "too-big", cpu = 1, ram = "1TB" } });
        var text = await refused.Content.ReadAsStringAsync();
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo("ERR_NO_ELIGIBLE_AGENT"));
        Assert.That(text, Does.Not.Contain(TestDevHost.AgentId).And.Not.Contain("candidates"));

        var taskId = JsonDocument.Parse(text).RootElement.GetProperty("taskId").GetString();
        var asTenant = await alpha.GetStringAsync($"/api/v1/tenant/tasks/{taskId}");
        Assert.That(asTenant, Does.Not.Contain(TestDevHost.AgentId).And.Not.Contain("candidates"));
        var asAdmin = await Client.GetStringAsync($"/api/v1/admin/tasks/{taskId}");
        Assert.That(asAdmin, Does.Contain(TestDevHost.AgentId), "the admin sees the candidates in the placement");
    }

    private HttpRequestMessage WithIdempotencyKey(string path, string token, string body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, DevHost.Url + path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    [Test]
    public async Task A_tenant_replaying_an_admins_idempotency_key_gets_the_task_without_its_agent()
    {
        const string body = """{"tenantId":"alpha","action":"vm.create","data":{"name":"replayed","cpu":1,"ram":"1GB"}}""";
        HttpRequestMessage Post(string path, string token) => WithIdempotencyKey(path, token, body, "shared-key-1");
        using var http = new HttpClient();
        var first = await (await http.SendAsync(Post("/api/v1/admin/tasks", _tokens["admin"]))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(first.GetProperty("agentId").GetString(), Is.EqualTo(TestDevHost.AgentId));

        var replay = await http.SendAsync(Post("/api/v1/tenant/tasks", _tokens["alpha-rw"]));
        var replayed = await replay.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(replayed.GetProperty("taskId").GetString(), Is.EqualTo(first.GetProperty("taskId").GetString()), "the same task");
        Assert.That(replayed.TryGetProperty("agentId", out _), Is.False);
        Assert.That(replayed.GetProperty("statusUrl").GetString(), Does.StartWith("/api/v1/tenant/tasks/"));
    }

    [Test]
    public async Task A_tenant_replaying_an_admins_idempotency_key_of_a_refusal_reads_it_as_a_tenant()
    {
        const string body = """{"tenantId":"alpha","action":"vm.create","data":{"name":"replayed-big","cpu":1,"ram":"1TB"}}""";
        HttpRequestMessage Post(string path, string token) => WithIdempotencyKey(path, token, body, "shared-refusal-1");
        using var http = new HttpClient();
        var asAdmin = await (await http.SendAsync(Post("/api/v1/admin/tasks", _tokens["admin"]))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(asAdmin.GetProperty("code").GetString(), Is.EqualTo("ERR_NO_ELIGIBLE_AGENT"));
        Assert.That(asAdmin.TryGetProperty("details", out _), Is.True, "the admin reads the requirement");

        var replay = await http.SendAsync(Post("/api/v1/tenant/tasks", _tokens["alpha-rw"]));
        var text = await replay.Content.ReadAsStringAsync();
        Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), text);
        var asTenant = JsonDocument.Parse(text).RootElement;
        Assert.That(asTenant.GetProperty("taskId").GetString(), Is.EqualTo(asAdmin.GetProperty("taskId").GetString()), "the same refusal");
        Assert.That(asTenant.TryGetProperty("details", out _), Is.False);
        Assert.That(asTenant.GetProperty("detail").GetString(), Is.Not.EqualTo(asAdmin.GetProperty("detail").GetString()).And.Not.Contain("agent"));
    }

    [Test]
    public async Task A_federated_identity_reaches_the_orchestrator_with_a_token_of_ours_and_stays_in_its_tenant()
    {
        var mapping = new EntraMapping { Tenants = new(StringComparer.OrdinalIgnoreCase) { ["dir-alpha"] = "alpha" } };
        var entra = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
            [new("oid", "entra-user-1"), new("tid", "dir-alpha"), new("roles", "OpenHvx.TenantUser")], "Entra"));
        var token = DevHost.GatewayServices.GetRequiredService<InternalTokens>().Mint(mapping.Map(entra)!);

        using var direct = Tokens.Client(DevHost.App.CoreUrl, token);
        Assert.That((await direct.GetAsync($"/api/v1/tenant/tasks/{_ids["alphaTask"]}")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await direct.GetAsync($"/api/v1/tenant/tasks/{_ids["betaTask"]}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await direct.GetAsync("/api/v1/admin/tenants")).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task Every_answer_carries_a_request_id_and_keeps_a_sane_one_from_the_caller()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, DevHost.Url + "/api/v1/admin/tenants");
        request.Headers.Authorization = Client.DefaultRequestHeaders.Authorization;
        request.Headers.Add("X-Request-Id", "trace-123");
        using var http = new HttpClient();
        var kept = await http.SendAsync(request);
        Assert.That(kept.Headers.GetValues("X-Request-Id").Single(), Is.EqualTo("trace-123"));

        var refused = await http.GetAsync(DevHost.Url + "/api/v1/admin/tenants");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(refused.Headers.GetValues("X-Request-Id").Single(), Has.Length.EqualTo(32));
    }
}
