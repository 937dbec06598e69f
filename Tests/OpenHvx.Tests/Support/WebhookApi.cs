using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Tests.Support;

/// <summary>Steps of the webhook tests over the real API: tenants with a tenant-admin, webhooks, tasks run as the tenant.</summary>
public static class WebhookApi
{
    public const string TenantRoute = "/api/v1/tenant/webhooks";
    public const string AdminRoute = "/api/v1/admin/webhooks";

    /// <summary>Creates the tenant (as admin) and returns a client of one of its users with <paramref name="role"/>.</summary>
    public static async Task<HttpClient> TenantAsync(HttpClient admin, string gatewayUrl, string tenantId, string role = "tenant-admin", bool create = true)
    {
        if (create)
            Assert.That((await admin.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return await Tokens.TenantClientAsync(admin, gatewayUrl, $"{tenantId}-{role}", tenantId, role);
    }

    /// <summary>Creates a webhook (201 required) and returns the answer, which holds the secret.</summary>
    public static async Task<JsonElement> CreateAsync(HttpClient client, object body, string route = TenantRoute)
    {
        var response = await client.PostAsJsonAsync(route, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<JsonElement> GetAsync(HttpClient client, string id, string route = TenantRoute)
        => client.GetFromJsonAsync<JsonElement>($"{route}/{id}");

    /// <summary>Submits as the tenant and waits for the task's end; returns its id.</summary>
    public static async Task<Guid> RunAsync(HttpClient tenant, string action, object data, string expect = "SUCCESS", string? vmId = null)
    {
        var response = await tenant.PostAsJsonAsync("/api/v1/tenant/tasks",
            new { action, target = vmId is null ? null : new { kind = "vm", refId = vmId }, data });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => tenant.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED" or "CANCELED", TimeSpan.FromSeconds(90), $"{action} finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo(expect), task.ToString());
        return Guid.Parse(task.GetProperty("taskId").GetString()!);
    }

    /// <summary>The task's events as the orchestrator logged them, oldest first.</summary>
    public static async Task<IReadOnlyList<TaskEvent>> LoggedAsync(TestDevHost devHost, Guid taskId)
        => await devHost.Services.GetRequiredService<ITaskEventLog>().ReadAsync(new TaskEventQuery(0, 1000, TaskId: taskId), CancellationToken.None);

    /// <summary>
    /// The Standard Webhooks check, written from the specification: <c>v1,</c> + base64(HMAC-SHA256(key = base64 after <c>whsec_</c>,
    /// <c>{webhook-id}.{webhook-timestamp}.{body}</c>)) is among the space-separated signatures.
    /// </summary>
    public static bool SignatureIsValid(string secret, ReceivedWebhook received)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = $"{received.Id}.{received.Headers["webhook-timestamp"]}.{received.Body}";
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed)));
        return received.Headers["webhook-signature"].ToString().Split(' ').Contains(expected);
    }
}
