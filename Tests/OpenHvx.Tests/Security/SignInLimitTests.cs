using System.Net;
using System.Net.Http.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// Password guessing is cut without handing an attacker a lockout: failures from one address stop that address, not
/// the user signing in from another; a guess spread over many addresses stops new addresses, not one the user signed
/// in from before. Each caller connects from its own loopback address.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class SignInLimitTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:SignIn:Window"] = "00:10:00",
        ["Gateway:SignIn:FailuresPerAccountAndAddress"] = "5",
        ["Gateway:SignIn:FailuresPerAccount"] = "12",
        ["Gateway:SignIn:FailuresPerAddress"] = "8",
    };

    private async Task<string> UserAsync(string username)
    {
        var password = username + "-password-1";
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username, password, tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        return password;
    }

    private async Task<HttpResponseMessage> SignInAsync(string fromAddress, string username, string password, string? forwardedFor = null)
    {
        using var http = FromAddress.Client(fromAddress, DevHost.Url);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = username, ["password"] = password, ["audience"] = "tenant",
            }),
        };
        if (forwardedFor is not null)
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        return await http.SendAsync(request);
    }

    [Test]
    public async Task An_address_claimed_in_X_Forwarded_For_counts_for_nothing_without_trusted_proxies()
    {
        var password = await UserAsync("victim3");

        // The attacker claims the victim's address, and a new one on every guess.
        for (var i = 0; i < 5; i++)
            Assert.That((await SignInAsync("127.0.4.1", "victim3", $"wrong-{i}", forwardedFor: "127.0.4.2")).StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await SignInAsync("127.0.4.1", "victim3", "wrong-5", forwardedFor: "10.9.9.9")).StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests),
            "the attacker's own address is the one cut");
        Assert.That((await SignInAsync("127.0.4.2", "victim3", password)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the victim's address was never charged");
    }

    [Test]
    public async Task Guesses_from_one_address_stop_that_address_while_the_user_signs_in_from_another()
    {
        var password = await UserAsync("victim1");

        var guesses = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
            guesses.Add((await SignInAsync("127.0.0.2", "victim1", $"wrong-guess-{i}")).StatusCode);

        Assert.That(guesses.Take(5), Is.All.EqualTo(HttpStatusCode.BadRequest), "five failures are answered as wrong passwords");
        Assert.That(guesses.Skip(5), Is.All.EqualTo(HttpStatusCode.TooManyRequests), "then this address is cut for this account");
        var attackerWithTheRightPassword = await SignInAsync("127.0.0.2", "VICTIM1", password);
        Assert.That(attackerWithTheRightPassword.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "the cut address learns nothing, even from the right password");
        Assert.That(attackerWithTheRightPassword.Headers.RetryAfter?.Delta?.TotalSeconds, Is.GreaterThan(0));

        Assert.That((await SignInAsync("127.0.0.3", "victim1", password)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the user, from its own address, is not locked out");
    }

    [Test]
    public async Task A_guess_spread_over_many_addresses_stops_new_addresses_but_not_one_the_user_signed_in_from()
    {
        var password = await UserAsync("victim2");
        Assert.That((await SignInAsync("127.0.1.1", "victim2", password)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the user's usual address");

        // Twelve failures, two from each of six addresses: no address is over its own limit.
        for (var i = 0; i < 12; i++)
            Assert.That((await SignInAsync($"127.0.2.{1 + i / 2}", "victim2", $"spread-guess-{i}")).StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));

        Assert.That((await SignInAsync("127.0.2.50", "victim2", "one-more-guess")).StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests),
            "a new address meets the account-wide limit");
        Assert.That((await SignInAsync("127.0.1.1", "victim2", password)).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "the address the user signed in from keeps working");
    }

    [Test]
    public async Task One_address_guessing_across_many_accounts_is_stopped()
    {
        await UserAsync("sprayed1");
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
            answers.Add((await SignInAsync("127.0.3.1", i % 2 == 0 ? "sprayed1" : $"nobody{i}", "Summer2026!spray")).StatusCode);

        Assert.That(answers.Take(8), Is.All.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(answers.Skip(8), Is.All.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That((await SignInAsync("127.0.3.2", "sprayed1", "sprayed1-password-1")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}

/// <summary>Behind a proxy the gateway is told to trust, the client's address in X-Forwarded-For is the one the limits count.</summary>
[TestFixture]
[Category("Integration")]
public sealed class TrustedProxySignInTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:TrustedProxies:0"] = "127.0.5.1",
        ["Gateway:SignIn:FailuresPerAccountAndAddress"] = "3",
    };

    private async Task<HttpStatusCode> SignInViaProxyAsync(string clientAddress, string password)
    {
        using var proxy = FromAddress.Client("127.0.5.1", DevHost.Url);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = "proxied", ["password"] = password, ["audience"] = "tenant",
            }),
        };
        request.Headers.Add("X-Forwarded-For", clientAddress);
        return (await proxy.SendAsync(request)).StatusCode;
    }

    [Test]
    public async Task Clients_behind_a_trusted_proxy_are_limited_each_by_their_own_address()
    {
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = "proxied", password = "proxied-password-1", tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));

        for (var i = 0; i < 3; i++)
            Assert.That(await SignInViaProxyAsync("203.0.113.7", $"wrong-{i}"), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await SignInViaProxyAsync("203.0.113.7", "proxied-password-1"), Is.EqualTo(HttpStatusCode.TooManyRequests), "the guessing client is cut");
        Assert.That(await SignInViaProxyAsync("198.51.100.9", "proxied-password-1"), Is.EqualTo(HttpStatusCode.OK),
            "another client behind the same proxy is not");
    }
}
