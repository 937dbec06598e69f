using OpenHvx.Gateway.Identity;

namespace OpenHvx.Tests.Gateway;

/// <summary>Gateway:Issuer as standard clients compare it: an absolute http(s) URL that ends with '/'.</summary>
[TestFixture]
[Category("Unit")]
public sealed class TokenIssuerTests
{
    [TestCase("http://localhost:8080", "http://localhost:8080/", TestName = "An origin gets its trailing slash")]
    [TestCase("https://hvx.example.com/", "https://hvx.example.com/", TestName = "An issuer with its slash stays as it is")]
    [TestCase("https://hvx.example.com/openhvx", "https://hvx.example.com/openhvx/", TestName = "A path gets a trailing slash so that console/callback lands under it")]
    public void A_configured_issuer_ends_with_a_slash(string configured, string issuer)
        => Assert.That(TokenIssuer.Parse(configured)!.AbsoluteUri, Is.EqualTo(issuer));

    [Test]
    public void No_configured_issuer_leaves_it_to_the_bound_address() => Assert.That(TokenIssuer.Parse(null), Is.Null);

    [TestCase("localhost:8080", TestName = "An issuer without a scheme is refused")]
    [TestCase("ftp://hvx.example.com/", TestName = "An issuer that is not http(s) is refused")]
    [TestCase("https://hvx.example.com/?tenant=1", TestName = "An issuer with a query is refused")]
    [TestCase("https://hvx.example.com/#x", TestName = "An issuer with a fragment is refused")]
    public void A_malformed_issuer_stops_the_start(string configured)
        => Assert.That(() => TokenIssuer.Parse(configured), Throws.InvalidOperationException.With.Message.Contains("OPENHVX_ISSUER"));
}
