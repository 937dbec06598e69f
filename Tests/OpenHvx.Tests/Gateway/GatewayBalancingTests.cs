using OpenHvx.ServiceDefaults;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Proxy;
using OpenHvx.Tests.Support;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// A gateway in front of two fake orchestrators (OPENHVX_ORCHESTRATOR_URL lists both): the requests are shared, a stopped one is
/// left out once its health probes fail and gets requests again when it is back, and a request one drops goes to the other only
/// when sending it again cannot do its work twice.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class GatewayBalancingTests
{
    [Test]
    public async Task Requests_are_shared_by_the_orchestrators()
    {
        await using var stack = await Stack.StartAsync();

        for (var i = 0; i < 20; i++)
            Assert.That((await stack.Admin.GetAsync("/api/v1/admin/work")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That(stack.Destinations().Select(d => (d.DestinationId, d.Model.Config.Address)),
            Is.EquivalentTo(new[] { ("orchestrator-1", stack.First.Url + "/"), ("orchestrator-2", stack.Second.Url + "/") }));
        Assert.That(stack.First.Seen, Has.Count.GreaterThan(0), "orchestrator-1's share");
        Assert.That(stack.Second.Seen, Has.Count.GreaterThan(0), "orchestrator-2's share");
        Assert.That(stack.First.Seen.Count + stack.Second.Seen.Count, Is.EqualTo(20));
    }

    [Test]
    public async Task A_stopped_orchestrator_is_left_out_once_its_probes_fail_and_gets_requests_again_when_it_is_back()
    {
        await using var stack = await Stack.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = stack.Admin.BaseAddress };

        await stack.First.StopAsync();
        await Eventually.True(() => Task.FromResult(stack.Health("orchestrator-1") == DestinationHealth.Unhealthy),
            because: "the active health check finds orchestrator-1 down");

        for (var i = 0; i < 20; i++)
        {
            var response = await stack.Admin.GetAsync("/api/v1/admin/work");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("orchestrator-2"));
        }
        var ready = await anonymous.GetAsync(ServiceDefaultsExtensions.ReadyPath);
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ready.Content.ReadAsStringAsync());

        await stack.First.StartAsync();
        await Eventually.True(async () =>
        {
            Assert.That((await stack.Admin.GetAsync("/api/v1/admin/work")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            return stack.First.Seen.Count > 0;
        }, because: "orchestrator-1 gets requests again");
    }

    [Test]
    public async Task A_task_submission_with_an_Idempotency_Key_that_an_orchestrator_drops_is_answered_by_the_other()
    {
        await using var stack = await Stack.StartAsync(firstDrops: true);
        var sent = new List<(string Key, string Body, HttpStatusCode Status)>();

        await Eventually.True(async () =>
        {
            var key = Guid.NewGuid().ToString("N");
            var body = $"{{\"name\":\"vm-{key}\"}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Add("Idempotency-Key", key);
            sent.Add((key, body, (await stack.Admin.SendAsync(request)).StatusCode));
            return !stack.First.Seen.IsEmpty;
        }, because: "a POST reaches the orchestrator that drops it");

        Assert.That(sent.Select(s => s.Status), Is.All.EqualTo(HttpStatusCode.Accepted));
        foreach (var dropped in stack.First.Seen)
            Assert.That(stack.Second.Seen, Has.One.EqualTo(dropped), "the other orchestrator got the same key and body");
        Assert.That(stack.Second.Seen.Select(s => (s.Key, s.Body)), Is.EquivalentTo(sent.Select(s => ((string?)s.Key, s.Body))));
    }

    [Test]
    public async Task A_POST_without_a_key_that_reached_an_orchestrator_gets_the_502_and_is_not_sent_to_the_other()
    {
        await using var stack = await Stack.StartAsync(firstDrops: true);
        var answers = new Dictionary<string, HttpResponseMessage>();

        await Eventually.True(async () =>
        {
            var body = $"{{\"name\":\"vm-{Guid.NewGuid():N}\"}}";
            answers[body] = await stack.Admin.PostAsync("/api/v1/admin/work", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            return !stack.First.Seen.IsEmpty;
        }, because: "a POST reaches the orchestrator that drops it");

        var dropped = stack.First.Seen.Single();
        var answer = answers[dropped.Body];
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway));
        Assert.That((await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_UPSTREAM_UNAVAILABLE"));
        Assert.That(stack.Second.Seen.Select(s => s.Body), Does.Not.Contain(dropped.Body), "the other orchestrator never saw it");
        Assert.That(answers.Where(a => a.Key != dropped.Body).Select(a => a.Value.StatusCode), Is.All.EqualTo(HttpStatusCode.Accepted));
    }

    [TestCase("/api/v1/admin/work", "a-key", TestName = "A keyed POST to a route that does not claim keys gets the 502 and is not sent to the other")]
    [TestCase("/api/v1/admin/tasks", "", TestName = "A task submission with an empty Idempotency-Key gets the 502 and is not sent to the other")]
    public async Task A_POST_whose_key_nothing_claims_is_not_repeated(string path, string key)
    {
        await using var stack = await Stack.StartAsync(firstDrops: true);
        var answers = new Dictionary<string, HttpResponseMessage>();

        await Eventually.True(async () =>
        {
            var body = $"{{\"name\":\"vm-{Guid.NewGuid():N}\"}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            answers[body] = await stack.Admin.SendAsync(request);
            return !stack.First.Seen.IsEmpty;
        }, because: "a POST reaches the orchestrator that drops it");

        var dropped = stack.First.Seen.Single();
        Assert.That(answers[dropped.Body].StatusCode, Is.EqualTo(HttpStatusCode.BadGateway));
        Assert.That(stack.Second.Seen.Select(s => s.Body), Does.Not.Contain(dropped.Body), "the other orchestrator never saw it");
    }

    [Test]
    public async Task A_GET_that_an_orchestrator_drops_is_answered_by_the_other()
    {
        await using var stack = await Stack.StartAsync(firstDrops: true);
        var answers = new List<(HttpStatusCode Status, string Body)>();

        await Eventually.True(async () =>
        {
            var response = await stack.Admin.GetAsync("/api/v1/admin/work");
            answers.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
            return !stack.First.Seen.IsEmpty;
        }, because: "a GET reaches the orchestrator that drops it");

        Assert.That(answers, Is.All.EqualTo((HttpStatusCode.OK, "orchestrator-2")));
    }

    [Test]
    public async Task A_body_kept_for_a_retry_still_has_the_gateways_size_limit()
    {
        await using var stack = await Stack.StartAsync(maxRequestBodyBytes: 1000);
        // Chunked, without Content-Length: the limit shows only as the body is read.
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(pauseWriterThreshold: 0));
        await pipe.Writer.WriteAsync(new byte[3000]);
        await pipe.Writer.CompleteAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks") { Content = new StreamContent(pipe.Reader.AsStream()) };
        request.Headers.Add("Idempotency-Key", "big-body");

        var response = await stack.Admin.SendAsync(request);

        Assert.That(request.Content.Headers.ContentLength, Is.Null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_PAYLOAD_TOO_LARGE"));
    }

    [Test]
    public async Task An_event_stream_reaches_the_client_as_the_orchestrator_writes_it()
    {
        await using var stack = await Stack.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        using var response = await stack.Admin.GetAsync("/api/v1/admin/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        Assert.That(await events.ReadLineAsync(timeout.Token), Is.EqualTo("data: first"), "the first event comes while the stream is open");
        stack.First.EndStreams();
        stack.Second.EndStreams();
        Assert.That(await events.ReadToEndAsync(timeout.Token), Does.Contain("data: last"));
    }

    [Test]
    public async Task A_POST_without_a_key_goes_to_the_other_orchestrator_when_the_connection_is_refused()
    {
        // Probes an hour apart: the stopped orchestrator stays in the rotation, its refused connections show.
        await using var stack = await Stack.StartAsync(healthInterval: TimeSpan.FromHours(1));
        await stack.First.StopAsync();

        for (var i = 0; i < 20; i++)
        {
            var response = await stack.Admin.PostAsync("/api/v1/admin/work", new StringContent($"{{\"n\":{i}}}", System.Text.Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        }
        Assert.That(stack.Second.Seen.Select(s => s.Body), Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"{{\"n\":{i}}}")));
    }

    [Test]
    public async Task The_gateways_own_calls_go_to_the_other_orchestrator_when_one_cannot_be_reached()
    {
        await using var stack = await Stack.StartAsync(healthInterval: TimeSpan.FromHours(1));
        await stack.First.StopAsync();

        for (var i = 0; i < 6; i++)
        {
            // The gateway asks an orchestrator whether the tenant exists before it registers the client.
            var response = await stack.Admin.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = $"ci-robot-{i}", tenantId = "t1", roles = new[] { "tenant-user-r" } });
            Assert.That(response.IsSuccessStatusCode, Is.True, await response.Content.ReadAsStringAsync());
        }
    }

    [TestCase("http://127.0.0.1:5001,htp//127.0.0.1:5002", "htp//127.0.0.1:5002")]
    [TestCase("http://127.0.0.1:5001 http://127.0.0.1:5002", "http://127.0.0.1:5001 http://127.0.0.1:5002")]
    [TestCase("ftp://127.0.0.1:5001", "ftp://127.0.0.1:5001")]
    public void A_malformed_orchestrator_address_stops_the_start_naming_it(string list, string named)
    {
        using var folder = new TempFolder(nameof(GatewayBalancingTests));

        Assert.That(() => StartGatewayAsync(new Dictionary<string, string?>
        {
            ["OPENHVX_ORCHESTRATOR_URL"] = list,
            ["Gateway:Database"] = folder.File("gateway.db"),
            ["OPENHVX_ADMIN_PASSWORD"] = Tokens.AdminPassword,
        }), Throws.InvalidOperationException.With.Message.Contains($"'{named}'").And.Message.Contains("OPENHVX_ORCHESTRATOR_URL"));
        SqliteConnection.ClearAllPools();
    }

    [Test]
    public void The_address_list_is_split_at_commas_and_each_item_trimmed_of_spaces_and_line_ends()
    {
        Assert.That(OrchestratorAddresses.Parse(" http://127.0.0.1:5001 ,https://orchestrator-2.example:8443/base\n"),
            Is.EqualTo(new[] { new Uri("http://127.0.0.1:5001/"), new Uri("https://orchestrator-2.example:8443/base") }));
        Assert.That(OrchestratorAddresses.Parse("http://orchestrator:8080"), Is.EqualTo(new[] { new Uri("http://orchestrator:8080/") }));
        Assert.That(OrchestratorAddresses.Parse(null), Is.Empty);
    }

    [TestCase("http://127.0.0.1:5001,,http://127.0.0.1:5002", "empty item")]
    [TestCase("http://127.0.0.1:5001,\n", "empty item")]
    [TestCase("http://127.0.0.1:5001, http://127.0.0.1:5001/", "'http://127.0.0.1:5001/' is listed twice")]
    public void An_empty_or_repeated_item_is_refused(string list, string message)
        => Assert.That(() => OrchestratorAddresses.Parse(list), Throws.InvalidOperationException.With.Message.Contains(message));

    /// <summary>A gateway as the service starts it, with these settings, on a port of its own.</summary>
    private static async Task<WebApplication> StartGatewayAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        var profile = OpenHvx.Gateway.Telemetry.GatewayDiagnostics.Profile with { OwnsTelemetry = false };
        builder.AddServiceDefaults(profile);
        builder.Services.AddGateway(builder.Configuration);
        var gateway = builder.Build();
        try
        {
            gateway.UseGateway(profile);
            await gateway.StartAsync();
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fake orchestrator: ready, every tenant exists, an event stream at <c>/api/v1/admin/stream</c>, and at <c>/api/v1/admin/work</c> it notes what it got, then answers with its name or drops the connection.</summary>
    private sealed class FakeOrchestrator(string name, bool drops) : IAsyncDisposable
    {
        private WebApplication? _app;
        private readonly TaskCompletionSource _streamsEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<(string Method, string? Key, string Body)> Seen { get; } = new();

        public string Url { get; private set; } = "";

        /// <summary>On a port of its own at first, on the same one again after <see cref="StopAsync"/>.</summary>
        public async Task StartAsync()
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls(Url.Length > 0 ? Url : "http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            _app = builder.Build();
            _app.MapGet(ServiceDefaultsExtensions.ReadyPath, () => Results.Ok());
            _app.MapGet("/api/v1/admin/tenants/{tenantId}", (string tenantId) => Results.Ok(new { id = tenantId }));
            _app.MapGet("/api/v1/admin/stream", async (HttpContext http) =>
            {
                http.Response.ContentType = "text/event-stream";
                await http.Response.WriteAsync("data: first\n\n");
                await http.Response.Body.FlushAsync();
                await _streamsEnd.Task.WaitAsync(http.RequestAborted);
                await http.Response.WriteAsync("data: last\n\n");
            });
            _app.MapMethods("/api/v1/admin/{route:regex(^(work|tasks)$)}", ["GET", "POST"], async (HttpContext http) =>
            {
                var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
                Seen.Enqueue((http.Request.Method, http.Request.Headers["Idempotency-Key"].FirstOrDefault(), body));
                if (drops)
                {
                    http.Abort();
                    return Results.Empty;
                }
                return HttpMethods.IsPost(http.Request.Method) ? Results.Accepted(value: name) : Results.Text(name);
            });
            await _app.StartAsync();
            Url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        }

        /// <summary>Its event streams write their last event and end.</summary>
        public void EndStreams() => _streamsEnd.TrySetResult();

        public async Task StopAsync()
        {
            if (_app is null)
                return;
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }

        public ValueTask DisposeAsync() => new(StopAsync());
    }

    /// <summary>The gateway with its health probes every 100 ms (unless told), in front of two fake orchestrators.</summary>
    private sealed class Stack : IAsyncDisposable
    {
        private readonly TempFolder _folder = new(nameof(GatewayBalancingTests));
        private WebApplication? _gateway;

        private Stack(bool firstDrops)
        {
            First = new FakeOrchestrator("orchestrator-1", firstDrops);
            Second = new FakeOrchestrator("orchestrator-2", drops: false);
        }

        public FakeOrchestrator First { get; }
        public FakeOrchestrator Second { get; }
        public HttpClient Admin { get; private set; } = null!;

        public static async Task<Stack> StartAsync(bool firstDrops = false, TimeSpan? healthInterval = null, long maxRequestBodyBytes = 1024 * 1024)
        {
            var stack = new Stack(firstDrops);
            try
            {
                await stack.First.StartAsync();
                await stack.Second.StartAsync();
                stack._gateway = await StartGatewayAsync(new Dictionary<string, string?>
                {
                    ["OPENHVX_ORCHESTRATOR_URL"] = $"{stack.First.Url}, {stack.Second.Url}",
                    ["Gateway:Database"] = stack._folder.File("gateway.db"),
                    ["OPENHVX_ADMIN_PASSWORD"] = Tokens.AdminPassword,
                    ["Gateway:OrchestratorHealth:Interval"] = (healthInterval ?? TimeSpan.FromMilliseconds(100)).ToString("c"),
                    ["Gateway:OrchestratorHealth:Timeout"] = "00:00:01",
                    ["Gateway:OrchestratorHealth:ReactivationPeriod"] = "00:00:00.5",
                    ["Gateway:MaxRequestBodyBytes"] = maxRequestBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
                stack.Admin = await Tokens.AdminClientAsync(stack._gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
                return stack;
            }
            catch
            {
                await stack.DisposeAsync();
                throw;
            }
        }

        public IReadOnlyList<DestinationState> Destinations()
            => _gateway!.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(OrchestratorUpstream.ClusterId, out var cluster)
                ? cluster.DestinationsState.AllDestinations
                : [];

        public DestinationHealth Health(string destinationId) => Destinations().Single(d => d.DestinationId == destinationId).Health.Active;

        public async ValueTask DisposeAsync()
        {
            Admin?.Dispose();
            if (_gateway is not null)
                await _gateway.DisposeAsync();
            await First.DisposeAsync();
            await Second.DisposeAsync();
            SqliteConnection.ClearAllPools();
            _folder.Dispose();
        }
    }
}
