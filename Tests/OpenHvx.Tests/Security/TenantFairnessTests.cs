using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// Fairness beyond request counts: a tenant posting large bodies meets a budget of bytes, and a tenant with requests
/// hanging in progress meets a limit on them, while another tenant is served as usual. (How much one tenant can slow
/// another is measured by the benchmark's fairness run, not by a timed test.)
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class TenantFairnessTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:Fairness:MaxInFlight"] = "2",
        ["Gateway:Fairness:QueueLimit"] = "0",
        ["Gateway:Fairness:BodyBytesBurst"] = (1536 * 1024).ToString(),
        ["Gateway:Fairness:BodyBytesPerSecond"] = (64 * 1024).ToString(),
    };

    private async Task<(HttpClient Noisy, HttpClient Calm)> TenantsAsync(string prefix)
    {
        foreach (var tenant in new[] { prefix + "-noisy", prefix + "-calm" })
        {
            var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = tenant });
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        }
        return (await Tokens.TenantClientAsync(Client, DevHost.Url, prefix + "-noisy-rw", prefix + "-noisy", "tenant-user-rw"),
            await Tokens.TenantClientAsync(Client, DevHost.Url, prefix + "-calm-rw", prefix + "-calm", "tenant-user-rw"));
    }

    [Test]
    public async Task A_tenant_posting_large_bodies_meets_its_byte_budget_while_another_tenant_is_served()
    {
        var (noisy, calm) = await TenantsAsync("bytes");
        // 900 KB of a (refused) vm.create: the body costs its bytes whatever the answer.
        var large = JsonSerializer.Serialize(new { action = "vm.create", data = new { name = "big", cloudInit = new { runcmd = new[] { new string('x', 900_000) } } } });

        var first = await noisy.PostAsync("/api/v1/tenant/tasks", new StringContent(large, Encoding.UTF8, "application/json"));
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), "the first body is within the budget");
        var second = await noisy.PostAsync("/api/v1/tenant/tasks", new StringContent(large, Encoding.UTF8, "application/json"));
        var text = await second.Content.ReadAsStringAsync();
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo("ERR_RATE_LIMITED"));
        Assert.That(second.Headers.RetryAfter?.Delta?.TotalSeconds, Is.GreaterThan(0));
        Assert.That((await noisy.GetAsync("/api/v1/tenant/quotas")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "reads cost no bytes");

        Assert.That((await calm.GetAsync("/api/v1/tenant/quotas")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var small = await calm.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name = "small", cpu = 1, ram = "1GB", imageId = "none.latest" } });
        Assert.That(small.StatusCode, Is.Not.EqualTo(HttpStatusCode.TooManyRequests), "another tenant has its own budget");
    }

    [Test]
    public async Task A_tenant_with_too_many_requests_in_progress_gets_429_while_another_tenant_is_served()
    {
        var (noisy, calm) = await TenantsAsync("inflight");
        var token = noisy.DefaultRequestHeaders.Authorization!.Parameter!;
        // Two requests that stay in progress: their bodies never finish arriving. They trickle in at 500 bytes a second, above
        // Kestrel's minimum body rate (240), so that the server keeps waiting for them as long as the test needs.
        var hanging = new List<TcpClient>();
        using var stopTrickle = new CancellationTokenSource();
        Task trickle = Task.CompletedTask;
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var client = new TcpClient();
                hanging.Add(client);
                await client.ConnectAsync(IPAddress.Loopback, new Uri(DevHost.Url).Port);
                await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
                    $"POST /api/v1/tenant/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n" +
                    "Content-Length: 100000\r\n\r\n{\"action\":"));
            }
            trickle = Task.Run(async () =>
            {
                var spaces = Encoding.ASCII.GetBytes(new string(' ', 100));
                while (!stopTrickle.IsCancellationRequested)
                {
                    foreach (var client in hanging)
                        await client.GetStream().WriteAsync(spaces, stopTrickle.Token);
                    await Task.Delay(200, stopTrickle.Token);
                }
            });
            var refused = await Eventually.Get(() => noisy.GetAsync("/api/v1/tenant/quotas"), r => r.StatusCode == HttpStatusCode.TooManyRequests,
                TimeSpan.FromSeconds(10), "a third request of the tenant is refused");
            Assert.That((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RATE_LIMITED"));
            Assert.That((await calm.GetAsync("/api/v1/tenant/quotas")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "another tenant is served");
        }
        finally
        {
            await stopTrickle.CancelAsync();
            await trickle.ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var client in hanging)
                client.Dispose();
        }
        await Eventually.True(async () => (await noisy.GetAsync("/api/v1/tenant/quotas")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "the tenant is served again once its requests ended");
    }
}
