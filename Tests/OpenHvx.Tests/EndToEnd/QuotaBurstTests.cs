using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

/// <summary>Quota under concurrency, through the real API, saga, SQLite and PowerShell agent (DevHost).</summary>
[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class QuotaBurstTests
{
    // A host large enough that capacity never decides: only the quota does.
    private static readonly Dictionary<string, string?> LargeHost = new()
    {
        ["Agent:Simulated:LogicalProcessors"] = "256",
        ["Agent:Simulated:MemoryMB"] = "4194304",
        ["Agent:Simulated:StorageMB"] = "8388608",
        ["Orchestrator:SubmitWait"] = "00:01:00",
    };

    private static async Task<string> CreateTenantAsync(HttpClient client, object limits)
    {
        var tenantId = "burst-" + Guid.NewGuid().ToString("N")[..8];
        var response = await client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId, limits });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return tenantId;
    }

    private static async Task<List<JsonElement>> WaitAllFinalAsync(HttpClient client, IEnumerable<Uri> locations)
    {
        var final = new List<JsonElement>();
        foreach (var location in locations)
        {
            final.Add(await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(location),
                t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromMinutes(3), $"{location} finishes"));
        }
        return final;
    }

    [Test]
    public async Task Of_200_concurrent_creates_exactly_those_the_vcpu_limit_fits_are_accepted()
    {
        const int fits = 25;
        using var folder = new TempFolder("burst");
        await using var factory = new TestDevHost(folder.Path, LargeHost);
        var client = await factory.StartAsync();
        var tenantId = await CreateTenantAsync(client, new { cpu = fits });

        var clock = Stopwatch.StartNew();
        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = $"b{i}", cpu = 1, ram = "512MB" } })));
        clock.Stop();
        TestContext.Out.WriteLine($"200 concurrent submissions answered in {clock.Elapsed.TotalSeconds:0.00} s ({200 / clock.Elapsed.TotalSeconds:0} per second)");

        var accepted = responses.Where(r => r.StatusCode == HttpStatusCode.Accepted).ToList();
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.Conflict).ToList();
        Assert.That(accepted, Has.Count.EqualTo(fits));
        Assert.That(refused, Has.Count.EqualTo(200 - fits));
        foreach (var response in refused)
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_QUOTA_EXCEEDED"));

        var final = await WaitAllFinalAsync(client, accepted.Select(r => r.Headers.Location!));
        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"));
        var quota = await client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That(quota.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(fits));
        Assert.That(quota.GetProperty("cpu").GetProperty("held").GetInt64(), Is.Zero);
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(fits));
    }

    [Test]
    public async Task When_half_a_burst_fails_at_the_agent_usage_counts_only_the_successes()
    {
        using var folder = new TempFolder("burst-half");
        await using var factory = new TestDevHost(folder.Path, new Dictionary<string, string?>(LargeHost)
        {
            ["Agent:Simulated:Faults:Start-VM:Message"] = "power loss",
            ["Agent:Simulated:Faults:Start-VM:Times"] = "5",
        });
        var client = await factory.StartAsync();
        var tenantId = await CreateTenantAsync(client, new { cpu = -1 });

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = $"h{i}", cpu = 2, ram = "1GB" } })));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.Accepted));

        var final = await WaitAllFinalAsync(client, responses.Select(r => r.Headers.Location!));
        var succeeded = final.Count(t => t.GetProperty("status").GetString() == "SUCCESS");
        Assert.That(succeeded, Is.EqualTo(5));
        Assert.That(final.Where(t => t.GetProperty("status").GetString() == "FAILED").Select(t => t.GetProperty("error").GetProperty("code").GetString()),
            Is.All.EqualTo("ERR_SIMULATED_FAULT"));
        var quota = await client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That((quota.GetProperty("cpu").GetProperty("used").GetInt64(), quota.GetProperty("memoryMB").GetProperty("used").GetInt64(),
            quota.GetProperty("vmCount").GetProperty("used").GetInt64()), Is.EqualTo((5L * 2, 5L * 1024, 5L)));
        Assert.That(quota.GetProperty("cpu").GetProperty("held").GetInt64(), Is.Zero);
    }

    [Test]
    public async Task An_over_quota_burst_of_one_tenant_never_takes_host_capacity_from_another()
    {
        using var folder = new TempFolder("burst-capacity");
        await using var factory = new TestDevHost(folder.Path, new Dictionary<string, string?>
        {
            ["Agent:Simulated:LogicalProcessors"] = "24",
            ["Agent:Simulated:MemoryMB"] = "262144",
            ["Agent:Simulated:StorageMB"] = "8388608",
            ["Orchestrator:SubmitWait"] = "00:01:00",
        });
        var client = await factory.StartAsync();
        var greedy = await CreateTenantAsync(client, new { cpu = 1 });
        var other = await CreateTenantAsync(client, new { cpu = -1 });

        // Each greedy request alone would fit the host (20 of 24 vCPUs) but not its tenant's limit; the other tenant's 20 x 1 vCPU
        // fit the host only if no refused request keeps capacity, even for a moment. Sent interleaved, all at once.
        var greedyRequests = new List<Task<HttpResponseMessage>>();
        var otherRequests = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 100; i++)
        {
            greedyRequests.Add(client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = greedy, action = "vm.create", data = new { name = $"g{i}", cpu = 20, ram = "1GB" } }));
            if (i % 5 == 0)
                otherRequests.Add(client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = other, action = "vm.create", data = new { name = $"o{i}", cpu = 1, ram = "512MB" } }));
        }
        var greedyAnswers = await Task.WhenAll(greedyRequests);
        var otherAnswers = await Task.WhenAll(otherRequests);

        var greedyCodes = await Task.WhenAll(greedyAnswers.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()));
        Assert.That(greedyCodes, Is.All.EqualTo("ERR_QUOTA_EXCEEDED"));
        Assert.That(otherAnswers.Select(r => r.StatusCode), Has.Exactly(20).EqualTo(HttpStatusCode.Accepted), "no 503 while the host had room");
    }
}
