using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OpenHvx.Tests.Support;

/// <summary>
/// The HTTP API of the test broker's management plugin (tools/rabbitmq.sh enables it): virtual hosts, users and permissions
/// in milliseconds, where each rabbitmqctl call starts an Erlang VM (about a second of CPU on a two-core machine).
/// <c>OPENHVX_TEST_RABBITMQ_API</c> names it (http://user:password@host:port/); by default it is port 15672 on the host of
/// <see cref="TestBroker.BaseUrl"/>, as that URL's user. <see cref="Instance"/> is null when it does not answer: the test
/// broker then uses rabbitmqctl, as before.
/// </summary>
public sealed class BrokerManagementApi
{
    private static readonly Lazy<BrokerManagementApi?> Probed = new(Probe);
    private readonly HttpClient _client;

    private BrokerManagementApi(Uri url, string user, string password)
    {
        Url = new UriBuilder(url) { UserName = "", Password = "" }.Uri;
        User = user;
        Password = password;
        _client = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    /// <summary>The API's base URL, without credentials (what tools/agent-broker-user.sh takes as RABBITMQ_API_URL).</summary>
    public Uri Url { get; }
    public string User { get; }
    public string Password { get; }

    public static BrokerManagementApi? Instance => Probed.Value;

    private static BrokerManagementApi? Probe()
    {
        Uri url;
        if (Environment.GetEnvironmentVariable("OPENHVX_TEST_RABBITMQ_API") is { Length: > 0 } configured)
            url = new Uri(configured);
        else
        {
            var broker = new Uri(TestBroker.BaseUrl);
            url = new UriBuilder("http", broker.Host, 15672) { UserName = broker.UserInfo.Split(':')[0], Password = broker.UserInfo.Split(':').ElementAtOrDefault(1) ?? "" }.Uri;
        }
        var credentials = url.UserInfo.Split(':', 2);
        var api = new BrokerManagementApi(url, Uri.UnescapeDataString(credentials[0]), Uri.UnescapeDataString(credentials.ElementAtOrDefault(1) ?? ""));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = api._client.GetAsync("api/whoami", timeout.Token).GetAwaiter().GetResult();
            // Users and permissions need an administrator (whoami's tags: a list, or a comma-separated string before 3.9).
            if (response.IsSuccessStatusCode && response.Content.ReadAsStringAsync(timeout.Token).GetAwaiter().GetResult().Contains("administrator"))
            {
                TestContext.Progress.WriteLine($"[broker] virtual hosts and users through the management API at {api.Url}");
                return api;
            }
            TestContext.Progress.WriteLine($"[broker] the management API at {api.Url} answered {(int)response.StatusCode} (or not as an administrator): rabbitmqctl makes virtual hosts and users");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            TestContext.Progress.WriteLine($"[broker] no management API at {api.Url} ({ex.Message}): rabbitmqctl makes virtual hosts and users");
        }
        return null;
    }

    private static string Segment(string name) => Uri.EscapeDataString(name);

    public Task AddVhostAsync(string vhost) => SendAsync(HttpMethod.Put, $"api/vhosts/{Segment(vhost)}");

    public Task DeleteVhostAsync(string vhost) => SendAsync(HttpMethod.Delete, $"api/vhosts/{Segment(vhost)}");

    public Task AddUserAsync(string user, string password, string tags = "") => SendAsync(HttpMethod.Put, $"api/users/{Segment(user)}", new { password, tags });

    public Task DeleteUserAsync(string user) => SendAsync(HttpMethod.Delete, $"api/users/{Segment(user)}");

    public Task SetPermissionsAsync(string vhost, string user, string configure, string write, string read)
        => SendAsync(HttpMethod.Put, $"api/permissions/{Segment(vhost)}/{Segment(user)}", new { configure, write, read });

    /// <summary>The user's permissions on every virtual host (as rabbitmqctl list_user_permissions).</summary>
    public async Task<JsonElement> UserPermissionsAsync(string user)
        => JsonDocument.Parse(await SendAsync(HttpMethod.Get, $"api/users/{Segment(user)}/permissions")).RootElement.Clone();

    public async Task<JsonElement> TopicPermissionsAsync(string vhost, string user)
        => JsonDocument.Parse(await SendAsync(HttpMethod.Get, $"api/topic-permissions/{Segment(vhost)}/{Segment(user)}")).RootElement.Clone();

    /// <summary>The virtual host's queues as the management API lists them (name, type, durable, auto_delete, exclusive, arguments, ...).</summary>
    public async Task<JsonElement> QueuesAsync(string vhost)
        => JsonDocument.Parse(await SendAsync(HttpMethod.Get, $"api/queues/{Segment(vhost)}")).RootElement.Clone();

    /// <summary>A failed call is an <see cref="InvalidOperationException"/>, as a failed rabbitmqctl call is in <see cref="TestBroker.CtlAsync"/>.</summary>
    private async Task<string> SendAsync(HttpMethod method, string path, object? body = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await _client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode && !(method == HttpMethod.Delete && response.StatusCode == HttpStatusCode.NotFound))
                throw new InvalidOperationException($"{method} {path} on the management API failed ({(int)response.StatusCode}): {text}");
            return text;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException($"{method} {path} on the management API failed: {ex.Message}", ex);
        }
    }
}
