using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Security;

namespace OpenHvx.Tests.Security;

/// <summary>The orchestrator's reads of the token service's revocation list and keys, against a token service in this process.</summary>
[TestFixture]
[Category("Unit")]
public sealed class TokenServicePollerTests
{
    [Test]
    public async Task A_read_that_times_out_is_retried_at_the_next_interval_and_the_polling_goes_on()
    {
        var service = new SlowFirstTokenService();
        var poller = new TokenServicePoller(new Clients(service), Options.Create(new OrchestratorOptions { RevocationPoll = TimeSpan.FromMilliseconds(100) }),
            TimeProvider.System, NullLogger<TokenServicePoller>.Instance);

        await poller.StartAsync(default);
        try
        {
            await Eventually.True(() => Task.FromResult(poller.Revocations.Count == 1), because: "the read after the timed-out one finds the list");
        }
        finally
        {
            await poller.StopAsync(default);
        }
    }

    /// <summary>Hangs on the first request (past the client's timeout), then answers.</summary>
    private sealed class SlowFirstTokenService : HttpMessageHandler
    {
        private int _requests;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _requests) == 1)
                await Task.Delay(Timeout.Infinite, cancellationToken);
            return request.RequestUri!.AbsolutePath == TokenServicePaths.Revocations
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(new RevocationFeed(DateTimeOffset.UtcNow, [new RevocationEntry("user:u1", 1)])) }
                : new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("""{"keys":[]}""") };
        }
    }

    private sealed class Clients(HttpMessageHandler handler) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name)
            => new(handler, disposeHandler: false) { BaseAddress = new Uri("http://authority/"), Timeout = TimeSpan.FromMilliseconds(200) };
    }
}
