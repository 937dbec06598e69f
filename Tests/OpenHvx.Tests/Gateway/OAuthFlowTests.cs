using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// The OAuth flows beside the password grant, over real HTTP: authorization code with PKCE through the sign-in page, the
/// audience chosen by RFC 8707 resource or by scope, discovery, the <c>client_id</c> claim (RFC 9068), revocation reaching the
/// orchestrator, and bad input answered with 4xx.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class OAuthFlowTests : DevHostFixture
{
    private const string UserPassword = "oauth-flow-password-1";
    private const string Loopback = "http://127.0.0.1:53682/callback";

    private string Issuer => DevHost.Url + "/";

    [OneTimeSetUp]
    public async Task CreateUserAsync()
    {
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = "oauth-flow", password = UserPassword, tenantId = "test1", roles = new[] { "tenant-user-rw" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
    }

    private async Task<HttpResponseMessage> PostAsync(string path, Dictionary<string, string> form)
    {
        using var http = new HttpClient();
        return await http.PostAsync(DevHost.Url + path, new FormUrlEncodedContent(form));
    }

    private async Task<JsonElement> TokenAsync(Dictionary<string, string> form, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await PostAsync("/connect/token", form);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(expected), body.ToString());
        return body;
    }

    private static Dictionary<string, string> Password(string user, string password, params (string Name, string Value)[] extra)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = user, ["password"] = password };
        foreach (var (name, value) in extra)
            form[name] = value;
        return form;
    }

    private static JsonWebToken Jwt(JsonElement tokens) => new JsonWebTokenHandler().ReadJsonWebToken(tokens.GetProperty("access_token").GetString()!);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string AuthorizeQuery(string clientId, string redirectUri, string? challenge, string scope = "openhvx.read openhvx.write offline_access")
    {
        var query = new Dictionary<string, string?>
        {
            ["client_id"] = clientId, ["response_type"] = "code", ["redirect_uri"] = redirectUri, ["scope"] = scope, ["state"] = "state-1",
        };
        if (challenge is not null)
        {
            query["code_challenge"] = challenge;
            query["code_challenge_method"] = "S256";
        }
        return QueryHelpers.AddQueryString("/connect/authorize", query);
    }

    [Test]
    public async Task Authorization_code_with_pkce_for_the_cli_on_any_loopback_port_gives_the_users_tokens()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        using var browser = new SignInBrowser(DevHost.Url);

        var page = await browser.GetFormAsync(AuthorizeQuery("openhvx-cli", Loopback, challenge));
        var signedIn = await browser.PostFormAsync("/connect/authorize", page, new() { ["username"] = "oauth-flow", ["password"] = UserPassword });

        Assert.That(signedIn.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await signedIn.Content.ReadAsStringAsync());
        var location = signedIn.Headers.Location!;
        Assert.That(location.GetLeftPart(UriPartial.Path), Is.EqualTo(Loopback));
        var callback = QueryHelpers.ParseQuery(location.Query);
        Assert.That(callback["state"].ToString(), Is.EqualTo("state-1"));
        Assert.That(callback["iss"].ToString(), Is.EqualTo(Issuer));
        var tokens = await TokenAsync(new()
        {
            ["grant_type"] = "authorization_code", ["client_id"] = "openhvx-cli", ["code"] = callback["code"].ToString(),
            ["redirect_uri"] = Loopback, ["code_verifier"] = verifier,
        });
        var token = Jwt(tokens);
        Assert.That(token.GetClaim("sub").Value, Is.EqualTo("oauth-flow"));
        Assert.That(token.Audiences, Is.EqualTo(new[] { "tenant" }));
        Assert.That(token.GetClaim("client_id").Value, Is.EqualTo("openhvx-cli"));
        Assert.That(tokens.GetProperty("refresh_token").GetString(), Is.Not.Empty);
        using var api = Tokens.Client(DevHost.Url, tokens.GetProperty("access_token").GetString()!);
        Assert.That((await api.GetAsync("/api/v1/tenant/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var refreshed = await TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = "openhvx-cli", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()! });
        Assert.That(Jwt(refreshed).GetClaim("sub").Value, Is.EqualTo("oauth-flow"));
    }

    [Test]
    public async Task A_code_is_refused_without_its_verifier()
    {
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(Base64Url(RandomNumberGenerator.GetBytes(32)))));
        using var browser = new SignInBrowser(DevHost.Url);
        var page = await browser.GetFormAsync(AuthorizeQuery("openhvx-cli", Loopback, challenge));
        var signedIn = await browser.PostFormAsync("/connect/authorize", page, new() { ["username"] = "oauth-flow", ["password"] = UserPassword });
        var code = QueryHelpers.ParseQuery(signedIn.Headers.Location!.Query)["code"].ToString();

        var refused = await TokenAsync(new()
        {
            ["grant_type"] = "authorization_code", ["client_id"] = "openhvx-cli", ["code"] = code, ["redirect_uri"] = Loopback, ["code_verifier"] = Base64Url(RandomNumberGenerator.GetBytes(32)),
        }, HttpStatusCode.BadRequest);
        Assert.That(refused.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"));
    }

    [Test]
    public async Task The_sign_in_page_has_labels_a_strict_content_security_policy_and_is_not_cached()
    {
        using var browser = new SignInBrowser(DevHost.Url);
        var page = await browser.GetFormAsync(AuthorizeQuery("openhvx-console", Issuer + "console/callback", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));

        var csp = page.Response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(csp, Does.Match(@"\Adefault-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self' http://127\.0\.0\.1:\d+; frame-ancestors 'none'; base-uri 'none'\z"));
        Assert.That(page.Response.Headers.CacheControl!.NoStore, Is.True);
        Assert.That(page.Html, Does.Contain("<label for=\"username\">").And.Contain("<label for=\"password\">").And.Not.Contain("<script"));
        Assert.That(page.Hidden.Select(h => h.Key), Does.Contain("__RequestVerificationToken").Or.Some.StartsWith("__"));
    }

    [Test]
    public async Task A_wrong_password_on_the_sign_in_page_shows_the_form_again_with_400()
    {
        using var browser = new SignInBrowser(DevHost.Url);
        var page = await browser.GetFormAsync(AuthorizeQuery("openhvx-cli", Loopback, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        var refused = await browser.PostFormAsync("/connect/authorize", page, new() { ["username"] = "oauth-flow", ["password"] = "not-the-password-1" });

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("The username or password is wrong."));
    }

    [TestCase("http://127.0.0.1:53682/callback", null, "invalid_request", TestName = "The public cli without a PKCE challenge gets invalid_request")]
    [TestCase("http://127.0.0.1:53682/other", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "invalid_request", TestName = "A loopback redirect URI with another path is refused without a redirect")]
    [TestCase("http://evil.example/callback", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "invalid_request", TestName = "A foreign redirect URI is refused without a redirect")]
    public async Task Authorization_requests_outside_the_rules_are_refused_with_400(string redirectUri, string? challenge, string error)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var response = await http.GetAsync(DevHost.Url + AuthorizeQuery("openhvx-cli", redirectUri, challenge));
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(body, Does.StartWith("error:" + error));
    }

    [Test]
    public async Task An_unknown_resource_at_the_authorization_endpoint_goes_back_to_the_client_as_invalid_target()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var query = AuthorizeQuery("openhvx-cli", Loopback, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") + "&resource=" + Uri.EscapeDataString("http://elsewhere.example/api");

        var response = await http.GetAsync(DevHost.Url + query);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.Location!.GetLeftPart(UriPartial.Path), Is.EqualTo(Loopback));
        Assert.That(QueryHelpers.ParseQuery(response.Headers.Location.Query)["error"].ToString(), Is.EqualTo("invalid_target"));
    }

    [Test]
    public async Task The_first_party_clients_are_neither_listed_nor_removable_nor_taken_by_an_admin()
    {
        var clients = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/clients");
        Assert.That(clients.EnumerateArray().Select(c => c.GetProperty("clientId").GetString()), Has.None.StartsWith("openhvx-"));
        var removal = await Client.DeleteAsync("/api/v1/admin/clients/openhvx-cli");
        Assert.That(removal.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        var creation = await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "openhvx-console", roles = new[] { "global-admin" } });
        Assert.That(creation.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await creation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_USER_EXISTS"));
    }

    [Test]
    public async Task Discovery_lists_every_endpoint_and_flow_it_serves()
    {
        using var http = new HttpClient();
        var discovery = await http.GetFromJsonAsync<JsonElement>(DevHost.Url + "/.well-known/openid-configuration");
        string[] Values(string name) => [.. discovery.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];

        Assert.That(discovery.GetProperty("issuer").GetString(), Is.EqualTo(Issuer));
        foreach (var (name, path) in new[] { ("authorization_endpoint", "connect/authorize"), ("token_endpoint", "connect/token"), ("device_authorization_endpoint", "connect/device"),
                     ("revocation_endpoint", "connect/revoke"), ("introspection_endpoint", "connect/introspect"), ("jwks_uri", ".well-known/jwks") })
            Assert.That(discovery.GetProperty(name).GetString(), Is.EqualTo(Issuer + path), name);
        Assert.That(Values("response_types_supported"), Is.EqualTo(new[] { "code" }));
        Assert.That(Values("grant_types_supported"), Is.SupersetOf(new[]
        {
            "authorization_code", "client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
        }));
        Assert.That(Values("code_challenge_methods_supported"), Is.EqualTo(new[] { "S256" }));
        Assert.That(Values("scopes_supported"), Is.SupersetOf(new[] { "openhvx.admin", "openhvx.read", "openhvx.write", "openhvx.users", "offline_access" }));
    }

    [TestCase("admin", Tokens.AdminPassword, "resource", "api/v1/admin", "admin", TestName = "The admin API's resource gives an admin token")]
    [TestCase("oauth-flow", UserPassword, "resource", "api/v1/tenant", "tenant", TestName = "The tenant API's resource gives a tenant token")]
    [TestCase("admin", Tokens.AdminPassword, "scope", "openhvx.admin", "admin", TestName = "Scope openhvx.admin alone gives an admin token")]
    [TestCase("admin", Tokens.AdminPassword, null, null, "admin", TestName = "An admin with no audience indicator gets an admin token")]
    [TestCase("oauth-flow", UserPassword, null, null, "tenant", TestName = "A tenant user with no audience indicator gets a tenant token")]
    public async Task The_audience_follows_the_resource_or_the_scope_or_the_subject(string user, string password, string? parameter, string? value, string audience)
    {
        var extra = parameter is null ? [] : new[] { (parameter, parameter == "resource" ? Issuer + value : value!) };
        var tokens = await TokenAsync(Password(user, password, extra));
        Assert.That(Jwt(tokens).Audiences, Is.EqualTo(new[] { audience }));
    }

    [TestCase("admin", Tokens.AdminPassword, "resource=http://elsewhere.example/api", "invalid_target", TestName = "An unknown resource gets invalid_target")]
    [TestCase("admin", Tokens.AdminPassword, "resource=not a url", "invalid_target", TestName = "A malformed resource gets invalid_target")]
    [TestCase("oauth-flow", UserPassword, "resource={issuer}api/v1/admin", "invalid_target", TestName = "A tenant user naming the admin resource gets invalid_target")]
    [TestCase("admin", Tokens.AdminPassword, "audience=admin&resource={issuer}api/v1/tenant", "invalid_target", TestName = "An audience and a resource that disagree get invalid_target")]
    [TestCase("oauth-flow", UserPassword, "scope=openhvx.admin", "invalid_scope", TestName = "A tenant user asking for scope openhvx.admin gets invalid_scope")]
    [TestCase("admin", Tokens.AdminPassword, "audience=admin&audience=tenant", "invalid_request", TestName = "Two audience fields get invalid_request")]
    public async Task Audience_indicators_outside_the_rules_are_refused(string user, string password, string query, string error)
    {
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "password"), new("username", user), new("password", password) };
        foreach (var pair in query.Replace("{issuer}", Issuer).Split('&'))
            form.Add(new(pair[..pair.IndexOf('=')], pair[(pair.IndexOf('=') + 1)..]));
        using var http = new HttpClient();
        var response = await http.PostAsync(DevHost.Url + "/connect/token", new FormUrlEncodedContent(form));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body.ToString());
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo(error));
    }

    [Test]
    public async Task Access_tokens_name_their_client_and_anonymous_password_grants_name_none()
    {
        var cli = Jwt(await TokenAsync(Password("oauth-flow", UserPassword, ("client_id", "openhvx-cli"))));
        var anonymous = Jwt(await TokenAsync(Password("oauth-flow", UserPassword)));

        Assert.That(cli.GetClaim("client_id").Value, Is.EqualTo("openhvx-cli"));
        Assert.That(anonymous.TryGetClaim("client_id", out _), Is.False);
    }

    [Test]
    public async Task An_access_token_revoked_through_rfc_7009_is_refused_by_the_gateway_and_the_orchestrator()
    {
        var access = (await TokenAsync(Password("oauth-flow", UserPassword, ("client_id", "openhvx-cli")))).GetProperty("access_token").GetString()!;
        using var direct = Tokens.Client(DevHost.App.CoreUrl, access);
        Assert.That((await direct.GetAsync("/api/v1/tenant/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the orchestrator takes the token before");

        var revoked = await PostAsync("/connect/revoke", new() { ["client_id"] = "openhvx-cli", ["token"] = access, ["token_type_hint"] = "access_token" });
        Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.OK), await revoked.Content.ReadAsStringAsync());

        using var api = Tokens.Client(DevHost.Url, access);
        Assert.That((await api.GetAsync("/api/v1/tenant/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        await Eventually.True(async () => (await direct.GetAsync("/api/v1/tenant/tasks")).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(30), "the orchestrator refuses it after its next revocation poll");
    }

    [Test]
    public async Task Bad_input_on_the_new_endpoints_gets_4xx()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        async Task<HttpStatusCode> StatusOf(HttpResponseMessage response) => response.StatusCode;

        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/verify", new FormUrlEncodedContent(new Dictionary<string, string> { ["user_code"] = "x", ["username"] = "a", ["password"] = "b" }))),
            Is.EqualTo(HttpStatusCode.BadRequest), "a posted form without its antiforgery token");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "x" }))),
            Is.EqualTo(HttpStatusCode.Unauthorized), "introspection without a client (invalid_client)");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "x", ["client_id"] = "openhvx-cli" }))),
            Is.EqualTo(HttpStatusCode.Unauthorized), "introspection by a public client (invalid_client)");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/device", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "nobody" }))),
            Is.EqualTo(HttpStatusCode.Unauthorized), "device authorization for an unknown client (invalid_client)");
        Assert.That(await StatusOf(await http.GetAsync(DevHost.Url + "/connect/authorize?client_id=nobody&response_type=code")), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await StatusOf(await http.GetAsync(DevHost.Url + "/connect/authorize")), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await StatusOf(await http.GetAsync(DevHost.Url + "/connect/authorize?client_id=openhvx-cli&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")),
            Is.EqualTo(HttpStatusCode.BadRequest), "no redirect_uri");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/authorize", new StringContent("{}", Encoding.UTF8, "application/json"))),
            Is.EqualTo(HttpStatusCode.BadRequest), "an authorization request that is not a form");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "openhvx-cli" }))),
            Is.EqualTo(HttpStatusCode.BadRequest), "a revocation without a token");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["client_id"] = "openhvx-cli", ["code"] = "garbage", ["redirect_uri"] = Loopback, ["code_verifier"] = "x" }))),
            Is.EqualTo(HttpStatusCode.BadRequest), "a garbage code");
        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["client_id"] = "openhvx-cli", ["device_code"] = "garbage" }))),
            Is.EqualTo(HttpStatusCode.BadRequest));

        Assert.That(await StatusOf(await http.PostAsync(DevHost.Url + AuthorizeQuery("openhvx-cli", Loopback, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "oauth-flow", ["password"] = UserPassword }))), Is.EqualTo(HttpStatusCode.BadRequest),
            "a sign-in posted without its antiforgery token");
        var verifyGarbage = await http.GetAsync(DevHost.Url + "/connect/verify?user_code=%00%FF");
        Assert.That((int)verifyGarbage.StatusCode, Is.LessThan(500), await verifyGarbage.Content.ReadAsStringAsync());

        using var browser = new SignInBrowser(DevHost.Url);
        var page = await browser.GetFormAsync("/connect/verify");
        var unknown = await browser.PostFormAsync("/connect/verify", page, new() { ["user_code"] = "NOTACODE", ["username"] = "oauth-flow", ["password"] = UserPassword });
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await unknown.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_service_client_cannot_introspect_a_token_issued_to_nobody_or_to_another_client()
    {
        var created = await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "oauth-prober", tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var secret = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clientSecret").GetString()!;
        var own = await TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "oauth-prober", ["client_secret"] = secret });
        var anonymous = await TokenAsync(Password("oauth-flow", UserPassword));
        var cli = await TokenAsync(Password("oauth-flow", UserPassword, ("client_id", "openhvx-cli")));

        async Task<(HttpStatusCode Status, JsonElement Body)> IntrospectAsync(JsonElement tokens)
        {
            using var response = await PostAsync("/connect/introspect", new()
            {
                ["token"] = tokens.GetProperty("access_token").GetString()!, ["client_id"] = "oauth-prober", ["client_secret"] = secret,
            });
            return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
        }

        var (ownStatus, ownBody) = await IntrospectAsync(own);
        Assert.That(ownStatus, Is.EqualTo(HttpStatusCode.OK), ownBody.ToString());
        Assert.That(ownBody.GetProperty("active").GetBoolean(), Is.True, "its own token");
        foreach (var (name, tokens) in new[] { ("anonymous password grant", anonymous), ("openhvx-cli's", cli) })
        {
            var (status, body) = await IntrospectAsync(tokens);
            var told = status == HttpStatusCode.OK && body.GetProperty("active").GetBoolean();
            Assert.That(told, Is.False, $"{name}: {status} {body}");
            Assert.That(body.TryGetProperty("sub", out _), Is.False, $"{name}: nothing of the token is shown");
        }
    }
}
