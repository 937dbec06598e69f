using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Webhooks;

/// <summary>
/// Creating webhooks on a DevHost that allows no private network (the default): URLs that reach the orchestrator's host, its networks
/// or a metadata service are refused with a code, and every malformed body gets a 4xx with a code.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
public sealed class WebhookRegistrationTests : DevHostFixture
{
    // A documentation address (TEST-NET-3): public as far as the policy knows, and nothing is ever delivered in this fixture.
    private const string PublicUrl = "https://203.0.113.10/hooks/openhvx";

    private HttpClient _tenant = null!;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Orchestrator:Webhooks:MaxPerTenant"] = "2",
    };

    [OneTimeSetUp]
    public async Task CreateTenantAsync() => _tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-rules");

    [OneTimeTearDown]
    public void DisposeTenant() => _tenant?.Dispose();

    private static async Task<(HttpStatusCode Status, JsonElement Problem)> PostAsync(HttpClient client, object body, string route = WebhookApi.TenantRoute)
    {
        var response = await client.PostAsJsonAsync(route, body);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    [TestCase("http://127.0.0.1/hook")]
    [TestCase("http://127.8.9.10:8080/hook")]
    [TestCase("http://169.254.169.254/latest/meta-data/")]
    [TestCase("http://10.0.0.1/")]
    [TestCase("http://172.16.5.4/")]
    [TestCase("http://192.168.1.10/")]
    [TestCase("http://100.64.0.1/")]
    [TestCase("http://0.0.0.0/")]
    [TestCase("http://224.0.0.1/")]
    [TestCase("http://[::1]/")]
    [TestCase("http://[::ffff:127.0.0.1]/")]
    [TestCase("http://[::7f00:1]/")]
    [TestCase("http://[::ffff:0:7f00:1]/")]
    [TestCase("http://[fd00::1]/")]
    [TestCase("http://[fe80::1]/")]
    [TestCase("http://localhost/hook")]
    [TestCase("https://localhost:8443/hook")]
    public async Task A_url_that_reaches_a_loopback_private_link_local_or_metadata_address_is_refused(string url)
    {
        var (status, problem) = await PostAsync(_tenant, new { url, events = new[] { "*" } });

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity), problem.ToString());
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_WEBHOOK_ADDRESS_REFUSED"));
        Assert.That((await _tenant.GetFromJsonAsync<JsonElement>(WebhookApi.TenantRoute)).GetProperty("items").EnumerateArray()
            .Select(w => w.GetProperty("url").GetString()), Does.Not.Contain(url));
    }

    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"*\"],\"extra\":1}", "extra")]
    [TestCase("{\"url\":\"https://203.0.113.10/\"}", "events")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[]}", "events")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":\"*\"}", "events")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"vm.create.success\"]}", "events[0]")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"*\",\"vm.explode.SUCCESS\"]}", "events[1]")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"vm\"]}", "events[0]")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"vm.create.\"]}", "events[0]")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"*.*.*\"]}", "events[0]")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[42]}", "events[0]")]
    [TestCase("{\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"ftp://203.0.113.10/\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"/relative/hook\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://user:pass@203.0.113.10/\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://203.0.113.10/#frag\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://203.0.113.10/ hook\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":123,\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://hook.example.invalid/\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example/\",\"events\":[\"*\"]}", "url")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"*\"],\"secret\":\"not-a-secret\"}", "secret")]
    [TestCase("{\"url\":\"https://203.0.113.10/\",\"events\":[\"*\"],\"secret\":\"whsec_c2hvcnQ=\"}", "secret")]
    public async Task A_malformed_body_is_refused_with_the_field_named(string json, string field)
    {
        var response = await _tenant.PostAsync(WebhookApi.TenantRoute, new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), problem.ToString());
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_VALIDATION"));
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task Bodies_that_are_not_a_json_object_and_too_long_patterns_or_urls_get_4xx_with_a_code()
    {
        var text = await _tenant.PostAsync(WebhookApi.TenantRoute, new StringContent("url=x", Encoding.UTF8, "text/plain"));
        Assert.That(text.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        var array = await _tenant.PostAsync(WebhookApi.TenantRoute, new StringContent("[]", Encoding.UTF8, "application/json"));
        Assert.That(array.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await array.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_BAD_ENVELOPE"));
        var (longUrl, _) = await PostAsync(_tenant, new { url = PublicUrl + "?" + new string('a', 2000), events = new[] { "*" } });
        Assert.That(longUrl, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var (manyPatterns, _) = await PostAsync(_tenant, new { url = PublicUrl, events = Enumerable.Range(0, 21).Select(_ => "*").ToArray() });
        Assert.That(manyPatterns, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var (otherTenant, problem) = await PostAsync(_tenant, new { tenantId = "someone-else", url = PublicUrl, events = new[] { "*" } });
        Assert.That(otherTenant, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_TENANT_MISMATCH"));
        var patch = await _tenant.PatchAsJsonAsync($"{WebhookApi.TenantRoute}/wh_unknown", new { status = "active" });
        Assert.That(patch.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task A_tenant_gets_at_most_the_configured_number_of_webhooks_and_a_given_secret_is_kept()
    {
        using var tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-limit");
        var secret = "whsec_" + Convert.ToBase64String(Enumerable.Range(1, 24).Select(i => (byte)i).ToArray());
        var first = await WebhookApi.CreateAsync(tenant, new { url = PublicUrl, events = new[] { "vm.*", "*.FAILED" }, secret });
        Assert.That(first.GetProperty("secret").GetString(), Is.EqualTo(secret));
        Assert.That(first.GetProperty("url").GetString(), Is.EqualTo(PublicUrl));
        await WebhookApi.CreateAsync(tenant, new { url = PublicUrl, events = new[] { "*" } });

        var (status, problem) = await PostAsync(tenant, new { url = PublicUrl, events = new[] { "*" } });
        Assert.That(status, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_WEBHOOK_LIMIT"));
        Assert.That((await tenant.GetFromJsonAsync<JsonElement>(WebhookApi.TenantRoute)).GetProperty("items").GetArrayLength(), Is.EqualTo(2));
    }
}
