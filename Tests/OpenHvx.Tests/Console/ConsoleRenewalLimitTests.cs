using System.Net;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Console;

/// <summary>
/// The gateway renews console sessions by calling its own token service, always from its own address: those calls must not
/// share the per-address bucket of <c>Gateway:TokenRateLimit</c>, or a few busy consoles would end everybody's session.
/// Here the bucket holds 8 requests a minute, and admin tokens live 30 s, so every API call of the console renews first.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class ConsoleRenewalLimitTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(TestDevHost.Bucket("Gateway:TokenRateLimit", 8))
    {
        ["Gateway:AdminTokenLifetime"] = "00:00:30",
    };

    [Test]
    public async Task Renewals_by_the_gateway_do_not_use_up_the_per_address_limit_which_the_browsers_own_sign_in_steps_do()
    {
        // The sign-in itself takes some of the 8 from the browser's address (sign-in start, the page, its form, the callback).
        var (visitor, callback) = await ConsoleSessionTests.SignInAsync(DevHost.Url, "admin", Tokens.AdminPassword);
        using var _ = visitor;
        Assert.That(callback.Headers.Location?.ToString(), Is.EqualTo("/console/"));

        for (var i = 0; i < 12; i++)
        {
            using var answer = await visitor.ApiAsync("/api/v1/admin/agents");
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"call {i} (each renews the session's token)");
        }

        // The same address starting sign-ins: what is left in its bucket, then 429.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var answer = await visitor.Http.GetAsync("/console/signin");
            statuses.Add(answer.StatusCode);
        }
        Assert.That(statuses[0], Is.EqualTo(HttpStatusCode.Redirect), string.Join(", ", statuses));
        Assert.That(statuses[^1], Is.EqualTo(HttpStatusCode.TooManyRequests), string.Join(", ", statuses));
    }
}
