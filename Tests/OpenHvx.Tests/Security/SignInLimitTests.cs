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

    private async Task<HttpResponseMessage> SignInAsync(string fromAddress, string username, string password)
    {
        using var http = FromAddress.Client(fromAddress, DevHost.Url);
        return await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = password, ["audience"] = "tenant",
        }));
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
