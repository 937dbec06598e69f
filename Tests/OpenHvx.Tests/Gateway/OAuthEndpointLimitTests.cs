using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>The endpoints OpenIddict answers itself (device authorization, revocation, introspection) share the token endpoint's per-address limit.</summary>
[TestFixture]
[Category("Integration")]
public sealed class OAuthEndpointLimitTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:TokenRateLimit:TokenLimit"] = "3",
        ["Gateway:TokenRateLimit:TokensPerPeriod"] = "3",
        ["Gateway:TokenRateLimit:ReplenishmentPeriod"] = "00:01:00",
    };

    [Test]
    public async Task A_burst_of_device_authorizations_from_one_address_gets_429_with_retry_after()
    {
        using var http = new HttpClient();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 5; i++)
        {
            var response = await http.PostAsync(DevHost.Url + "/connect/device", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "openhvx-cli" }));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                refused = response;
        }

        Assert.That(statuses.Take(3), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(statuses.Skip(3), Is.All.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused!.Headers.RetryAfter!.Delta, Is.GreaterThan(TimeSpan.Zero));
        Assert.That((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RATE_LIMITED"));
    }
}
