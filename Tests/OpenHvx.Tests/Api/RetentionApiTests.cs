using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Api;

/// <summary>
/// Retention in the running orchestrator, with ages of seconds: a finished task leaves the live store and its lists, an admin
/// still reads it by id from the archive, its tenant no longer does, its retry and cancel are refused, and quota usage and a
/// recount are unchanged once its ledger row is compacted.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class RetentionApiTests : DevHostFixture
{
    private const string TenantId = "retention-1";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Orchestrator:Retention:FinishedTasks"] = "00:00:02",
        ["Orchestrator:Retention:SettledHolds"] = "00:00:02",
        ["Orchestrator:Retention:Interval"] = "00:00:00.250",
    };

    [Test]
    public async Task A_finished_task_is_archived_read_by_admins_only_and_its_quota_stays_counted()
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = TenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        using var tenant = await Tokens.TenantClientAsync(Client, DevHost.Url, TenantId + "-rw", TenantId, "tenant-user-rw");
        var submitted = await tenant.PostAsJsonAsync("/api/v1/tenant/tasks",
            new { action = "vm.create", data = new { name = "vm-" + Guid.NewGuid().ToString("N")[..10], cpu = 1, ram = "1GB" } });
        Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await submitted.Content.ReadAsStringAsync());
        var taskId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString()!;

        var archived = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}"),
            t => t.TryGetProperty("archived", out var a) && a.GetBoolean(), TimeSpan.FromSeconds(90), "the task ends and is archived");

        Assert.That(archived.GetProperty("status").GetString(), Is.EqualTo(TaskStatuses.Succeeded));
        Assert.That(archived.GetProperty("timeline").GetArrayLength(), Is.GreaterThan(1), "with its timeline");
        await ProblemAnswer.ReadAsync(await tenant.GetAsync($"/api/v1/tenant/tasks/{taskId}"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        var list = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={TenantId}");
        Assert.That(list.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()), Does.Not.Contain(taskId), "lists hold live tasks only");
        var retry = await ProblemAnswer.ReadAsync(await Client.PostAsync($"/api/v1/admin/tasks/{taskId}/retry", null), HttpStatusCode.Conflict, ErrorCodes.TaskNotRetryable);
        Assert.That(retry.GetProperty("detail").GetString(), Does.Contain("archived"));
        await ProblemAnswer.ReadAsync(await Client.PostAsync($"/api/v1/admin/tasks/{taskId}/cancel", null), HttpStatusCode.Conflict, ErrorCodes.TaskFinal);
        await ProblemAnswer.ReadAsync(await tenant.PostAsync($"/api/v1/tenant/tasks/{taskId}/cancel", null), HttpStatusCode.NotFound, ErrorCodes.NotFound);

        var events = DevHost.Services.GetRequiredService<ITaskEventLog>();
        Assert.That(await events.ReadAsync(new TaskEventQuery(0, 100, TaskId: Guid.Parse(taskId)), CancellationToken.None), Is.Empty, "its events are gone");
        var ledger = DevHost.Services.GetRequiredService<IQuotaStore>();
        await Eventually.True(async () => await ledger.GetEntryAsync(taskId, CancellationToken.None) is null, TimeSpan.FromSeconds(30), "its ledger row is compacted");
        var after = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{TenantId}/quotas");
        Assert.That(after.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(1));
        Assert.That(after.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(1));
        var recount = await (await Client.PostAsync($"/api/v1/admin/tenants/{TenantId}/quotas/recount", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(recount.GetProperty("corrected").GetBoolean(), Is.False, recount.ToString());
    }

    [Test]
    public async Task An_archived_task_id_submitted_again_is_answered_for_the_archived_task_and_not_run_again()
    {
        var tenantId = TenantId + "-again";
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var submitted = await Client.PostAsJsonAsync("/api/v1/admin/tasks",
            new { tenantId, action = "vm.create", data = new { name = "vm-" + Guid.NewGuid().ToString("N")[..10], cpu = 1, ram = "1GB" } });
        var taskId = Guid.Parse((await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString()!);
        await Eventually.True(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}")).TryGetProperty("archived", out _),
            TimeSpan.FromSeconds(90), "the task ends and is archived");

        // What a key's claim left unanswered (its orchestrator died) or a retry's derived id would send again, long after.
        using var scope = DevHost.Services.CreateScope();
        var submission = scope.ServiceProvider.GetRequiredService<OpenHvx.Orchestrator.Tasks.TaskSubmission>();
        var envelope = new OpenHvx.Orchestrator.Tasks.TaskSubmission.Envelope(tenantId, ActionNames.VmCreate, null,
            JsonSerializer.SerializeToElement(new { name = "vm-again", cpu = 1, ram = "1GB" }));
        var answer = await submission.SendAsync(taskId, envelope, new OpenHvx.Orchestrator.Tasks.Caller(true, null, "admin"), "", CancellationToken.None);

        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Response.Body = new MemoryStream();
        await answer.ExecuteAsync(http);
        Assert.That(http.Response.StatusCode, Is.EqualTo(StatusCodes.Status202Accepted));
        http.Response.Body.Position = 0;
        Assert.That((await JsonSerializer.DeserializeAsync<JsonElement>(http.Response.Body)).GetProperty("status").GetString(), Is.EqualTo(TaskStatuses.Succeeded));
        Assert.That(await DevHost.Services.GetRequiredService<OpenHvx.Orchestrator.Persistence.ITaskStore>().LoadAsync(taskId, CancellationToken.None), Is.Null,
            "no live task of that id again");
        var quota = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(1), "one VM, charged once");
        Assert.That(quota.GetProperty("vmCount").GetProperty("held").GetInt64(), Is.Zero);
    }
}
