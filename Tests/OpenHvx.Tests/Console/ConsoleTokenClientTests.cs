using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Identity;
using OpenHvx.Gateway.WebConsole;
using OpenIddict.Server;

namespace OpenHvx.Tests.Console;

/// <summary>
/// How the console's renewals answer: shared per refresh token, the same answer again for a token already spent (its cookie may
/// never have reached the browser), a refusal that ends the session, and a token service that could not be asked, which does not.
/// </summary>
[TestFixture]
[Category("Unit")]
public sealed class ConsoleTokenClientTests
{
    private sealed class TokenService(Func<int, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public int Calls;
        public List<string> Hosts { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Hosts.Add(request.RequestUri!.GetLeftPart(UriPartial.Authority));
            return Task.FromResult(answer(Interlocked.Increment(ref Calls)));
        }
    }

    private sealed class Factory(HttpMessageHandler handler) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new(handler, disposeHandler: false);
    }

    private sealed class Server(params string[] addresses) : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Server Listening()
        {
            var feature = new ServerAddressesFeature();
            foreach (var address in addresses)
                feature.Addresses.Add(address);
            Features.Set<IServerAddressesFeature>(feature);
            return this;
        }

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }

    private static ConsoleTokenClient Client(TokenService service, params string[] addresses)
    {
        var server = new Server(addresses).Listening();
        var issuer = new TokenIssuer(Options.Create(new GatewayOptions { Issuer = "https://hvx.example.com/" }), server,
            new OptionsMonitorStub(), NullLogger<TokenIssuer>.Instance);
        return new ConsoleTokenClient(new Factory(service), server, issuer, TimeProvider.System, NullLogger<ConsoleTokenClient>.Instance);
    }

    private sealed class OptionsMonitorStub : IOptionsMonitor<OpenIddictServerOptions>
    {
        public OpenIddictServerOptions CurrentValue { get; } = new();
        public OpenIddictServerOptions Get(string? name) => CurrentValue;
        public IDisposable? OnChange(Action<OpenIddictServerOptions, string?> listener) => null;
    }

    private static HttpResponseMessage Json(HttpStatusCode status, string json) => new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private static HttpResponseMessage Tokens(int n) => Json(HttpStatusCode.OK, $$"""{"access_token":"access-{{n}}","refresh_token":"refresh-{{n}}","expires_in":1800}""");

    [Test]
    public async Task Renewals_of_one_refresh_token_share_one_call_and_a_later_caller_with_the_spent_token_gets_the_same_answer()
    {
        var service = new TokenService(Tokens);
        var client = Client(service, "http://+:8080");

        var together = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.RenewAsync("refresh-0", CancellationToken.None)));
        var later = await client.RenewAsync("refresh-0", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(service.Calls, Is.EqualTo(1), "one call to the token service");
            Assert.That(together.Select(o => o.Tokens?.AccessToken), Has.All.EqualTo("access-1"));
            Assert.That(later.Tokens?.RefreshToken, Is.EqualTo("refresh-1"), "the answer is kept for a cookie that never arrived");
            Assert.That(service.Hosts, Has.All.EqualTo("http://localhost:8080"), "the plain-HTTP address the gateway listens on");
        });
    }

    [Test]
    public async Task A_token_service_that_cannot_be_asked_leaves_the_refresh_token_unspent_and_the_next_call_asks_again()
    {
        var service = new TokenService(n => n == 1 ? throw new HttpRequestException("connection refused") : Tokens(n));
        var client = Client(service, "http://127.0.0.1:5000");

        var first = await client.RenewAsync("refresh-0", CancellationToken.None);
        var second = await client.RenewAsync("refresh-0", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first.Unavailable, Is.True);
            Assert.That(first.Tokens, Is.Null);
            Assert.That(second.Tokens?.AccessToken, Is.EqualTo("access-2"));
        });
    }

    [TestCase(HttpStatusCode.ServiceUnavailable, true)]
    [TestCase(HttpStatusCode.TooManyRequests, true)]
    [TestCase(HttpStatusCode.BadRequest, false)]
    public async Task A_refusal_ends_the_session_and_an_unwell_token_service_does_not(HttpStatusCode status, bool unavailable)
    {
        var service = new TokenService(_ => Json(status, """{"error":"invalid_grant"}"""));
        var outcome = await Client(service, "http://127.0.0.1:5000").RenewAsync("refresh-0", CancellationToken.None);
        Assert.That((outcome.Tokens, outcome.Unavailable), Is.EqualTo(((ConsoleTokenSet?)null, unavailable)));
    }

    [Test]
    public async Task A_gateway_listening_on_https_only_is_asked_at_the_issuers_address_whose_certificate_names_it()
    {
        var service = new TokenService(Tokens);
        await Client(service, "https://+:443").RenewAsync("refresh-0", CancellationToken.None);
        Assert.That(service.Hosts, Is.EqualTo(new[] { "https://hvx.example.com" }));
    }
}
