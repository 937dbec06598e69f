using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OpenHvx.Tests.Support;

/// <summary>Tasks submitted over the API and followed to their end, as the end-to-end tests do.</summary>
public static class TaskRuns
{
    public const string AdminRoute = "/api/v1/admin/tasks";

    public static Task<HttpResponseMessage> SubmitAsync(HttpClient client, string tenantId, string action, object data, string? vmId = null, string route = AdminRoute)
        => client.PostAsJsonAsync(route, new { tenantId, action, target = vmId is null ? null : new { kind = "vm", refId = vmId }, data });

    /// <summary>Submits (202 required) and waits for the task to end in SUCCESS; returns the task.</summary>
    public static async Task<JsonElement> RunAsync(HttpClient client, string tenantId, string action, object data, string? vmId = null)
    {
        var response = await SubmitAsync(client, tenantId, action, data, vmId);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(90), $"{action} finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        return task;
    }

    /// <summary>A 2-vCPU, 2 GB VM; returns its GUID.</summary>
    public static async Task<string> CreateVmAsync(HttpClient client, string tenantId, string name)
        => (await RunAsync(client, tenantId, "vm.create", new { name, cpu = 2, ram = "2GB" })).GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!;
}
