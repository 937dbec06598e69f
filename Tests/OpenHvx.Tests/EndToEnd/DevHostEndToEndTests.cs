using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class DevHostEndToEndTests
{
    private static async Task<JsonElement> WaitForStatusAsync(HttpClient client, Uri location, string status)
        => await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(location),
            task => task.GetProperty("status").GetString() is "SUCCESS" or "FAILED",
            TimeSpan.FromSeconds(60), $"task {location} finishes") is var task && task.GetProperty("status").GetString() == status
            ? task
            : throw new AssertionException($"Expected {status}: {task}");

    [Test]
    public async Task Vm_create_reaches_SUCCESS_the_vm_exists_on_the_host_and_quota_is_charged()
    {
        using var folder = new TempFolder("e2e");
        await using var factory = new TestDevHost(folder.Path);
        var client = await factory.StartAsync();

        var response = await client.PostAsJsonAsync("/api/v1/admin/tasks", new
        {
            tenantId = "test1",
            action = "vm.create",
            data = new { name = "example", cpu = 2, ram = "2GB", imageId = "Rocky-10-GenericCloud-Base.latest" },
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());

        var task = await WaitForStatusAsync(client, response.Headers.Location!, "SUCCESS");
        var vmId = task.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        Assert.That(task.GetProperty("data").GetProperty("imageId").GetString(), Is.EqualTo("Rocky-10-GenericCloud-Base.10.1-20251120"));

        var vm = (await AgentHost.VmsAsync(factory.Services)).Single(v => v.GetProperty("id").GetString() == vmId);
        Assert.That((vm.GetProperty("name").GetString(), vm.GetProperty("powerState").GetString()), Is.EqualTo(("test1.example", "Running")));

        var quota = await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/quotas");
        Assert.That(quota.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(2));
        Assert.That(quota.GetProperty("memoryMB").GetProperty("used").GetInt64(), Is.EqualTo(2048));
        Assert.That(quota.GetProperty("storageMB").GetProperty("used").GetInt64(), Is.EqualTo(10 * 1024));
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(1));
        Assert.That(quota.GetProperty("cpu").GetProperty("held").GetInt64(), Is.Zero);

        var resources = await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Single().GetProperty("resourceId").GetString(), Is.EqualTo(vmId));
    }

    [Test]
    public async Task A_failing_host_fails_the_task_and_releases_the_quota()
    {
        using var folder = new TempFolder("e2e-fault");
        await using var factory = new TestDevHost(folder.Path, new Dictionary<string, string?>
        {
            ["Agent:Simulated:Faults:Start-VM:Message"] = "host says no",
            ["Agent:Simulated:Faults:Start-VM:Rate"] = "1",
        });
        var client = await factory.StartAsync();

        var response = await client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name = "doomed" } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        var task = await WaitForStatusAsync(client, response.Headers.Location!, "FAILED");
        Assert.That(task.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("ERR_SIMULATED_FAULT"));
        var quota = await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/quotas");
        Assert.That((quota.GetProperty("cpu").GetProperty("used").GetInt64(), quota.GetProperty("cpu").GetProperty("held").GetInt64()), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task A_task_running_when_DevHost_stops_succeeds_after_the_restart_with_quota_and_vm_linked_once()
    {
        using var folder = new TempFolder("e2e-restart");
        // New-VM takes 4 s: the task is running when DevHost stops.
        var settings = new Dictionary<string, string?> { ["Agent:Simulated:LatencyMs:New-VM"] = "4000" };
        Uri location;
        await using (var first = new TestDevHost(folder.Path, settings))
        {
            var client = await first.StartAsync();
            var response = await client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name = "durable" } });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            // The path only: the Location is absolute at this DevHost's gateway, and the next one listens on another port.
            location = new Uri(response.Headers.Location!.PathAndQuery, UriKind.Relative);
            var inFlight = await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(location),
                task => task.GetProperty("status").GetString() == "running", TimeSpan.FromSeconds(30), "the task runs");
            Assert.That(inFlight.GetProperty("status").GetString(), Is.EqualTo("running"), "in flight, not finished, when DevHost stops");
        }

        await using var second = new TestDevHost(folder.Path);
        var again = await second.StartAsync();
        var task = await WaitForStatusAsync(again, location, "SUCCESS");
        var vmId = task.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        Assert.That((await AgentHost.VmsAsync(second.Services)).Count(vm => vm.GetProperty("name").GetString() == "test1.durable"), Is.EqualTo(1), "built once");
        var quota = await again.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/quotas");
        Assert.That((quota.GetProperty("vmCount").GetProperty("used").GetInt64(), quota.GetProperty("vmCount").GetProperty("held").GetInt64()), Is.EqualTo((1L, 0L)));
        Assert.That((quota.GetProperty("cpu").GetProperty("used").GetInt64(), quota.GetProperty("cpu").GetProperty("held").GetInt64()), Is.EqualTo((2L, 0L)));
        var resources = await again.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()), Is.EqualTo(new[] { vmId }), "linked once");
        var taken = await again.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name = "durable" } });
        Assert.That(taken.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }
}
