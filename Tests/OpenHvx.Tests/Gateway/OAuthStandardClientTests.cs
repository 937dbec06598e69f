using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// The token service driven by npm's <c>openid-client</c> (Tests/clients/oauth-*.mjs), as the ecosystem's own clients use it:
/// discovery with its issuer check, client credentials without any non-standard field, the device flow and the password
/// grant as the public client <c>openhvx-cli</c>, refresh, revocation (RFC 7009) and introspection (RFC 7662).
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class OAuthStandardClientTests : DevHostFixture
{
    private const string Tenant = "test1";

    private string Issuer => DevHost.Url + "/";

    private static async Task<JsonElement> RunAsync(string script, params string[] arguments)
    {
        var run = await NodeClients.RunAsync(script, arguments);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        return JsonDocument.Parse(run.Output.Trim().Split('\n')[^1]).RootElement;
    }

    private async Task<string> CreateUserAsync(string username, string role = "tenant-user-rw")
    {
        var password = username + "-password-1";
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username, password, tenantId = Tenant, roles = new[] { role } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        return password;
    }

    private async Task<HttpStatusCode> TenantApiStatusAsync(string accessToken)
    {
        using var client = Tokens.Client(DevHost.Url, accessToken);
        return (await client.GetAsync("/api/v1/tenant/tasks")).StatusCode;
    }

    private static JsonWebToken Jwt(string token) => new JsonWebTokenHandler().ReadJsonWebToken(token);

    [Test]
    public async Task Openid_client_discovers_the_gateway_at_the_address_it_is_reached_at()
    {
        // Given without its trailing '/', as a person types it: openid-client compares the issuer with new URL(address).href.
        var metadata = await RunAsync("oauth-discovery.mjs", DevHost.Url);

        Assert.That(metadata.GetProperty("issuer").GetString(), Is.EqualTo(Issuer));
        Assert.That(metadata.GetProperty("device_authorization_endpoint").GetString(), Is.EqualTo(Issuer + "connect/device"));
        Assert.That(metadata.GetProperty("token_endpoint").GetString(), Is.EqualTo(Issuer + "connect/token"));
        Assert.That(metadata.GetProperty("response_types_supported").EnumerateArray().Select(e => e.GetString()), Does.Contain("code"));
    }

    [Test]
    public async Task A_service_client_gets_its_own_audience_without_an_audience_field_and_introspection_sees_its_revocation()
    {
        var created = await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "oauth-svc", tenantId = Tenant, roles = new[] { "tenant-user-r" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var secret = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clientSecret").GetString()!;

        var result = await RunAsync("oauth-client-credentials.mjs", Issuer, "oauth-svc", secret);

        var token = Jwt(result.GetProperty("access_token").GetString()!);
        Assert.That(token.Audiences, Is.EqualTo(new[] { "tenant" }));
        Assert.That(token.GetClaim("client_id").Value, Is.EqualTo("oauth-svc"));
        Assert.That(result.GetProperty("introspected").GetProperty("active").GetBoolean(), Is.True);
        Assert.That(result.GetProperty("introspected").GetProperty("sub").GetString(), Is.EqualTo("client:oauth-svc"));
        Assert.That(result.GetProperty("introspected_after_revocation").GetProperty("active").GetBoolean(), Is.False);
        Assert.That(await TenantApiStatusAsync(result.GetProperty("access_token").GetString()!), Is.EqualTo(HttpStatusCode.Unauthorized),
            "a token revoked through RFC 7009 is refused by the API");
    }

    [Test]
    public async Task The_password_grant_as_the_public_cli_client_refreshes_and_a_revoked_grant_ends()
    {
        var password = await CreateUserAsync("oauth-pw");

        var result = await RunAsync("oauth-password.mjs", Issuer, "oauth-pw", password);

        var token = Jwt(result.GetProperty("access_token").GetString()!);
        Assert.That(token.Audiences, Is.EqualTo(new[] { "tenant" }), "the user's own audience, with no indicator");
        Assert.That(token.GetClaim("client_id").Value, Is.EqualTo("openhvx-cli"));
        Assert.That(token.GetClaim("tenant_id").Value, Is.EqualTo(Tenant));
        Assert.That(result.GetProperty("refresh_after_revocation").GetString(), Is.EqualTo("invalid_grant"));
        // Revoking the refresh token ends its grant: the access tokens issued with it too, at the gateway and behind it.
        Assert.That(await TenantApiStatusAsync(result.GetProperty("access_token").GetString()!), Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await TenantApiStatusAsync(result.GetProperty("first_access_token").GetString()!), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task The_device_flow_as_the_cli_completes_once_the_user_signs_in_on_the_verification_page()
    {
        var password = await CreateUserAsync("oauth-device");
        var file = Path.Combine(DevHost.Root, "device-" + Guid.NewGuid().ToString("N") + ".json");

        var script = NodeClients.RunAsync("oauth-device.mjs", [Issuer, file, "openhvx.read offline_access"], timeout: TimeSpan.FromSeconds(90));
        await Eventually.True(() => Task.FromResult(File.Exists(file) && new FileInfo(file).Length > 0), TimeSpan.FromSeconds(30), "the device authorization answer is written");
        var device = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.That(device.GetProperty("verification_uri").GetString(), Is.EqualTo(Issuer + "connect/verify"));

        using var browser = new SignInBrowser(DevHost.Url);
        var page = await browser.GetFormAsync("/connect/verify");
        var answer = await browser.PostFormAsync("/connect/verify", page, new() { ["user_code"] = device.GetProperty("user_code").GetString()!, ["username"] = "oauth-device", ["password"] = password });
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), await answer.Content.ReadAsStringAsync());

        var run = await script;
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var tokens = JsonDocument.Parse(run.Output.Trim().Split('\n')[^1]).RootElement;
        var token = Jwt(tokens.GetProperty("access_token").GetString()!);
        Assert.That(token.GetClaim("sub").Value, Is.EqualTo("oauth-device"));
        Assert.That(token.GetClaim("client_id").Value, Is.EqualTo("openhvx-cli"));
        Assert.That(token.GetClaim("scope").Value.Split(' '), Does.Contain("openhvx.read").And.Not.Contain("openhvx.write"), "the scopes the device asked for");
        Assert.That(tokens.GetProperty("refresh_token").GetString(), Is.Not.Empty);
        Assert.That(await TenantApiStatusAsync(tokens.GetProperty("access_token").GetString()!), Is.EqualTo(HttpStatusCode.OK));
    }
}
