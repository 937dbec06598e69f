using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Api;

/// <summary>
/// POST .../tasks/{taskId}/retry over real HTTP through the gateway. A task fails because its image file is missing on the host (an
/// image of the catalog whose file the test provides later), so its retries fail or succeed as the test decides.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class TaskRetryApiTests : DevHostFixture
{
    private const string AdminTasks = "/api/v1/admin/tasks";
    private const string TenantTasks = "/api/v1/tenant/tasks";
    private const string StandIn = "stand-in-agent";

    // Pausing a VM takes a few seconds: the pause task is running meanwhile.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Agent:Simulated:LatencyMs:Suspend-VM"] = "4000" };

    private static string UniqueName(string prefix = "vm") => $"{prefix}-{Guid.NewGuid():N}"[..16];

    private async Task<HttpClient> TenantAsync(string tenantId)
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return await Tokens.TenantClientAsync(Client, DevHost.Url, tenantId + "-rw", tenantId, "tenant-user-rw");
    }

    /// <summary>A catalog image whose file is not on the host (yet): its image id and file.</summary>
    private async Task<(string ImageId, string File)> MissingImageAsync()
    {
        var name = UniqueName("img");
        var file = $"{name}-20260101.vhdx";
        var added = await Client.PostAsJsonAsync("/api/v1/admin/images", new { name, version = "20260101", file, minStorageGB = 8 });
        Assert.That(added.StatusCode, Is.EqualTo(HttpStatusCode.Created), await added.Content.ReadAsStringAsync());
        return ($"{name}.20260101", file);
    }

    private void ProvideImage(string file)
    {
        var images = Path.Combine(DevHost.AgentData, "images");
        File.Copy(Path.Combine(images, DemoCatalog.Images.Single(i => i.ImageId == "Ubuntu-24.04-Server-Cloud.20251015").File), Path.Combine(images, file));
    }

    private static async Task<JsonElement> FinalAsync(HttpClient client, Uri location)
        => await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(location),
            t => TaskStatuses.IsFinal(t.GetProperty("status").GetString()!), TimeSpan.FromSeconds(90), $"task {location} ends");

    /// <summary>A vm.create that fails on the host (its image file is missing); returns its id.</summary>
    private async Task<string> FailedCreateAsync(HttpClient client, string route, string imageId)
    {
        var data = new { name = UniqueName(), cpu = 1, ram = "1GB", imageId };
        var response = route == AdminTasks
            ? await client.PostAsJsonAsync(route, new { tenantId = "test1", action = "vm.create", data })
            : await client.PostAsJsonAsync(route, new { action = "vm.create", data });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await FinalAsync(client, response.Headers.Location!);
        Assert.That((task.GetProperty("status").GetString(), task.GetProperty("error").GetProperty("code").GetString()), Is.EqualTo(("FAILED", "ERR_IMAGE_MISSING")));
        return task.GetProperty("taskId").GetString()!;
    }

    private static Task<HttpResponseMessage> RetryAsync(HttpClient client, string route, string taskId, string? body = null, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{route}/{taskId}/retry");
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    /// <summary>A 202 as every task API's 202 is: an absolute Location at the gateway (where a GET works) and a Retry-After; returns the task id.</summary>
    private async Task<string> AcceptedAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), text);
        var taskId = JsonDocument.Parse(text).RootElement.GetProperty("taskId").GetString()!;
        var location = response.Headers.Location!;
        Assert.That(location.IsAbsoluteUri, Is.True, location.ToString());
        Assert.That(location.GetLeftPart(UriPartial.Authority), Is.EqualTo(new Uri(DevHost.Url).GetLeftPart(UriPartial.Authority)), "the gateway, as the client reached it");
        Assert.That(location.AbsolutePath, Does.EndWith($"/tasks/{taskId}"));
        Assert.That(int.Parse(response.Headers.GetValues("Retry-After").Single()), Is.Positive);
        return taskId;
    }

    private static async Task<JsonElement> RetriedByAsync(HttpClient client, string route, string taskId)
        => await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>($"{route}/{taskId}"),
            t => t.GetProperty("retriedBy").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(30), $"task {taskId} records its retry");

    private static string? Link(JsonElement task, string name) => task.GetProperty(name).ValueKind == JsonValueKind.Null ? null : task.GetProperty(name).GetString();

    [Test]
    public async Task A_chain_of_two_retries_links_every_task_both_ways_and_the_newest_succeeds_with_the_submitted_data()
    {
        using var tenant = await TenantAsync("retry-chain");
        var (imageId, file) = await MissingImageAsync();
        var original = await FailedCreateAsync(tenant, TenantTasks, imageId);

        var first = await AcceptedAsync(await RetryAsync(tenant, TenantTasks, original));
        var firstTask = await FinalAsync(tenant, new Uri($"{TenantTasks}/{first}", UriKind.Relative));
        Assert.That(firstTask.GetProperty("status").GetString(), Is.EqualTo("FAILED"), "the image is still missing");
        await RetriedByAsync(tenant, TenantTasks, original);

        // The original was retried already: the chain goes on from its newest task.
        var again = await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original), HttpStatusCode.Conflict, ErrorCodes.TaskNotRetryable);
        Assert.That(again.GetProperty("details").GetProperty("retriedBy").GetString(), Is.EqualTo(first));
        Assert.That(again.GetProperty("detail").GetString(), Does.Contain(first));

        ProvideImage(file);
        var second = await AcceptedAsync(await RetryAsync(tenant, TenantTasks, first));
        var secondTask = await FinalAsync(tenant, new Uri($"{TenantTasks}/{second}", UriKind.Relative));
        Assert.That(secondTask.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), secondTask.ToString());
        await RetriedByAsync(tenant, TenantTasks, first);

        var expected = new (string Id, string? RetryOf, string? RetriedBy)[] { (original, null, first), (first, original, second), (second, first, null) };
        foreach (var route in new[] { TenantTasks, AdminTasks })
        {
            var reader = route == TenantTasks ? tenant : Client;
            foreach (var (id, retryOf, retriedBy) in expected)
            {
                var task = await reader.GetFromJsonAsync<JsonElement>($"{route}/{id}");
                Assert.That((Link(task, "retryOf"), Link(task, "retriedBy")), Is.EqualTo((retryOf, retriedBy)), $"{route}/{id}");
            }
        }

        // The retries carry the data as submitted (not as enriched), in the same tenant, and the VM was built and charged once.
        var store = DevHost.Services.GetRequiredService<ITaskStore>();
        var stored = await Task.WhenAll(new[] { original, first, second }.Select(id => store.LoadAsync(Guid.Parse(id), CancellationToken.None)));
        Assert.That(stored.Select(t => t!.TenantId), Is.All.EqualTo("retry-chain"));
        Assert.That(stored.Select(t => JsonNode.DeepEquals(JsonNode.Parse(t!.Data.GetRawText()), JsonNode.Parse(stored[0]!.Data.GetRawText()))), Is.All.True);
        Assert.That(stored[2]!.Data.TryGetProperty("generation", out _), Is.False, "not the enriched data");
        var quota = await tenant.GetFromJsonAsync<JsonElement>("/api/v1/tenant/quotas");
        Assert.That((quota.GetProperty("vmCount").GetProperty("used").GetInt64(), quota.GetProperty("vmCount").GetProperty("held").GetInt64(),
            quota.GetProperty("cpu").GetProperty("used").GetInt64()), Is.EqualTo((1L, 0L, 1L)));
    }

    [Test]
    public async Task Retries_of_one_task_that_meet_submit_a_single_new_task()
    {
        using var tenant = await TenantAsync("retry-race");
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(tenant, TenantTasks, imageId);

        // Without a key, and with two different keys, at the same time: one new task between them.
        var responses = await Task.WhenAll(RetryAsync(tenant, TenantTasks, original), RetryAsync(tenant, TenantTasks, original),
            RetryAsync(tenant, TenantTasks, original, idempotencyKey: "race-a"), RetryAsync(tenant, TenantTasks, original, idempotencyKey: "race-b"));

        var named = new HashSet<string>();
        foreach (var response in responses)
        {
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.That(response.StatusCode, Is.AnyOf(HttpStatusCode.Accepted, HttpStatusCode.Conflict), body.ToString());
            named.Add(response.StatusCode == HttpStatusCode.Accepted ? body.GetProperty("taskId").GetString()! : body.GetProperty("details").GetProperty("retriedBy").GetString()!);
        }
        Assert.That(named, Has.Count.EqualTo(1), "every answer names the same retry");
        var retried = await RetriedByAsync(tenant, TenantTasks, original);
        Assert.That(Link(retried, "retriedBy"), Is.EqualTo(named.Single()));
        var tasks = await tenant.GetFromJsonAsync<JsonElement>($"{TenantTasks}?limit=50");
        Assert.That(tasks.GetProperty("items").EnumerateArray().Count(t => Link(t, "retryOf") == original), Is.EqualTo(1), "one task retries it");
    }

    [Test]
    public async Task A_canceled_task_can_be_retried()
    {
        var created = await TaskRuns.RunAsync(Client, "test1", "vm.create", new { name = UniqueName(), cpu = 1, ram = "1GB" });
        var vmId = created.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        // A pause is slow here: it is canceled while it runs (its script stopped).
        var pause = await TaskRuns.SubmitAsync(Client, "test1", "vm.power", new { state = "pause" }, vmId);
        Assert.That(pause.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await pause.Content.ReadAsStringAsync());
        var running = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(pause.Headers.Location),
            t => t.GetProperty("status").GetString() == "running", TimeSpan.FromSeconds(30), "the pause runs");
        var pauseId = running.GetProperty("taskId").GetString()!;
        var cancel = await Client.PostAsync($"{AdminTasks}/{pauseId}/cancel", null);
        Assert.That(cancel.StatusCode, Is.AnyOf(HttpStatusCode.OK, HttpStatusCode.Accepted), await cancel.Content.ReadAsStringAsync());
        var canceled = await FinalAsync(Client, pause.Headers.Location!);
        Assert.That(canceled.GetProperty("status").GetString(), Is.EqualTo("CANCELED"), canceled.ToString());

        var retry = await AcceptedAsync(await RetryAsync(Client, AdminTasks, pauseId));

        var task = await FinalAsync(Client, new Uri($"{AdminTasks}/{retry}", UriKind.Relative));
        Assert.That((task.GetProperty("status").GetString(), Link(task, "retryOf")), Is.EqualTo(("SUCCESS", pauseId)), task.ToString());
        Assert.That(Link(await RetriedByAsync(Client, AdminTasks, pauseId), "retriedBy"), Is.EqualTo(retry));
    }

    [Test]
    public async Task Retrying_a_successful_or_a_running_task_gets_409_ERR_TASK_NOT_RETRYABLE()
    {
        var created = await TaskRuns.RunAsync(Client, "test1", "vm.create", new { name = UniqueName(), cpu = 1, ram = "1GB" });
        var createdId = created.GetProperty("taskId").GetString()!;
        var refused = await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, createdId), HttpStatusCode.Conflict, ErrorCodes.TaskNotRetryable);
        Assert.That(refused.GetProperty("detail").GetString(), Does.Contain("SUCCESS"));

        var vmId = created.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        var pause = await TaskRuns.SubmitAsync(Client, "test1", "vm.power", new { state = "pause" }, vmId);
        Assert.That(pause.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        var running = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(pause.Headers.Location),
            t => t.GetProperty("status").GetString() == "running", TimeSpan.FromSeconds(30), "the pause runs");
        await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, running.GetProperty("taskId").GetString()!), HttpStatusCode.Conflict, ErrorCodes.TaskNotRetryable);

        Assert.That((await FinalAsync(Client, pause.Headers.Location!)).GetProperty("retriedBy").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"{AdminTasks}/{createdId}")).GetProperty("retriedBy").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task The_same_Idempotency_Key_replays_the_same_retry_and_another_request_with_it_gets_409_ERR_IDEMPOTENCY_CONFLICT()
    {
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(Client, AdminTasks, imageId);
        var key = Guid.NewGuid().ToString();

        var first = await RetryAsync(Client, AdminTasks, original, idempotencyKey: key);
        var firstId = await AcceptedAsync(first);
        var replay = await RetryAsync(Client, AdminTasks, original, idempotencyKey: key);
        var replayId = await AcceptedAsync(replay);

        Assert.That(replayId, Is.EqualTo(firstId));
        Assert.That(replay.Headers.Location, Is.EqualTo(first.Headers.Location));
        await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, original, """{"excludeAgents":["another-agent"]}""", key),
            HttpStatusCode.Conflict, ErrorCodes.IdempotencyConflict);
        var submission = new HttpRequestMessage(HttpMethod.Post, AdminTasks)
        {
            Content = JsonContent.Create(new { tenantId = "test1", action = "vm.create", data = new { name = UniqueName() } }),
        };
        submission.Headers.Add("Idempotency-Key", key);
        await ProblemAnswer.ReadAsync(await Client.SendAsync(submission), HttpStatusCode.Conflict, ErrorCodes.IdempotencyConflict);

        Assert.That(Link(await RetriedByAsync(Client, AdminTasks, original), "retriedBy"), Is.EqualTo(firstId));
        var tasks = await Client.GetFromJsonAsync<JsonElement>($"{AdminTasks}?tenantId=test1&limit=500");
        Assert.That(tasks.GetProperty("items").EnumerateArray().Count(t => Link(t, "retryOf") == original), Is.EqualTo(1), "one retry");
        await FinalAsync(Client, first.Headers.Location!);
    }

    [Test]
    public async Task An_admin_retry_that_excludes_the_failed_agent_is_placed_on_another_agent()
    {
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(Client, AdminTasks, imageId);
        var agents = DevHost.Services.GetRequiredService<IAgentStore>();
        // A second agent, in the registry only: it would never start a task (nothing reads its queue).
        var capacity = new AgentCapacity(64, 262144, 4194304);
        await agents.RecordHeartbeatAsync(new AgentHeartbeat("test", StandIn, DateTimeOffset.UtcNow, "stand-in-host", [ActionNames.VmCreate], capacity, capacity, 0,
            Status: AgentStatuses.Active, IntervalSeconds: 600), DateTimeOffset.UtcNow);
        try
        {
            var response = await RetryAsync(Client, AdminTasks, original, """{"excludeFailedAgent":true}""");

            var retryId = await AcceptedAsync(response);
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("agentId").GetString(), Is.EqualTo(StandIn));
            var retry = await Client.GetFromJsonAsync<JsonElement>($"{AdminTasks}/{retryId}");
            Assert.That(retry.GetProperty("excludedAgents").EnumerateArray().Select(a => a.GetString()), Is.EqualTo(new[] { TestDevHost.AgentId }));
            var failedAgent = retry.GetProperty("placement").GetProperty("candidates").EnumerateArray().Single(c => c.GetProperty("agentId").GetString() == TestDevHost.AgentId);
            Assert.That(failedAgent.GetProperty("reason").GetString(), Is.EqualTo("excluded by an admin"));
        }
        finally
        {
            // The stand-in leaves: the retry, which only it may take, fails when its pickup window ends.
            await agents.RecordHeartbeatAsync(new AgentHeartbeat("test", StandIn, DateTimeOffset.UtcNow.AddSeconds(1), "stand-in-host", [ActionNames.VmCreate], capacity, capacity, 0,
                Status: AgentStatuses.Stopping, IntervalSeconds: 600), DateTimeOffset.UtcNow);
        }
    }

    [Test]
    public async Task An_admin_retry_that_excludes_every_agent_gets_503_ERR_NO_ELIGIBLE_AGENT_with_Retry_After_and_is_the_newest_task_of_the_chain()
    {
        var (imageId, file) = await MissingImageAsync();
        var original = await FailedCreateAsync(Client, AdminTasks, imageId);

        var response = await RetryAsync(Client, AdminTasks, original, $$"""{"excludeAgents":["{{TestDevHost.AgentId}}"]}""");

        var problem = await ProblemAnswer.ReadAsync(response, HttpStatusCode.ServiceUnavailable, ErrorCodes.NoEligibleAgent);
        Assert.That(int.Parse(response.Headers.GetValues("Retry-After").Single()), Is.Positive);
        var refused = problem.GetProperty("taskId").GetString()!;
        Assert.That(Link(await RetriedByAsync(Client, AdminTasks, original), "retriedBy"), Is.EqualTo(refused));
        await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, original), HttpStatusCode.Conflict, ErrorCodes.TaskNotRetryable);

        ProvideImage(file);
        var retryId = await AcceptedAsync(await RetryAsync(Client, AdminTasks, refused));
        var retry = await FinalAsync(Client, new Uri($"{AdminTasks}/{retryId}", UriKind.Relative));
        Assert.That((retry.GetProperty("status").GetString(), Link(retry, "retryOf")), Is.EqualTo(("SUCCESS", refused)));
    }

    [Test]
    public async Task Agent_fields_are_for_admins_and_a_malformed_retry_body_is_refused_with_its_code()
    {
        using var tenant = await TenantAsync("retry-fields");
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(tenant, TenantTasks, imageId);

        await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original, """{"excludeAgents":["devhost-agent-1"]}"""), HttpStatusCode.Forbidden, ErrorCodes.Forbidden);
        await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original, """{"excludeFailedAgent":true}"""), HttpStatusCode.Forbidden, ErrorCodes.Forbidden);
        await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original, """{"agentId":"devhost-agent-1"}"""), HttpStatusCode.BadRequest, ErrorCodes.BadEnvelope);
        await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original, "[1]"), HttpStatusCode.BadRequest, ErrorCodes.BadEnvelope);
        var badId = await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, original, """{"excludeAgents":["bad id!"]}"""), HttpStatusCode.UnprocessableEntity, ErrorCodes.Validation);
        Assert.That(badId.GetProperty("errors").TryGetProperty("excludeAgents[0]", out _), Is.True, badId.ToString());
        var badFlag = await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, original, """{"excludeFailedAgent":"yes"}"""), HttpStatusCode.UnprocessableEntity, ErrorCodes.Validation);
        Assert.That(badFlag.GetProperty("errors").TryGetProperty("excludeFailedAgent", out _), Is.True, badFlag.ToString());

        var task = await tenant.GetFromJsonAsync<JsonElement>($"{TenantTasks}/{original}");
        Assert.That(task.GetProperty("retriedBy").ValueKind, Is.EqualTo(JsonValueKind.Null), "nothing was retried");
        // An empty JSON object is no option at all: a tenant may send it.
        await AcceptedAsync(await RetryAsync(tenant, TenantTasks, original, "{}"));
    }

    [Test]
    public async Task A_tenant_retrying_another_tenants_task_or_an_unknown_or_malformed_id_gets_404()
    {
        using var owner = await TenantAsync("retry-owner");
        using var stranger = await TenantAsync("retry-stranger");
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(owner, TenantTasks, imageId);

        await ProblemAnswer.ReadAsync(await RetryAsync(stranger, TenantTasks, original), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await ProblemAnswer.ReadAsync(await RetryAsync(stranger, TenantTasks, Guid.NewGuid().ToString()), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await ProblemAnswer.ReadAsync(await RetryAsync(stranger, TenantTasks, "not-a-task"), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        // Ids are matched whole: the owner's own task id, with anything around it, is no id.
        foreach (var variant in new[] { original + "%0A", $"%7B{original}%7D", original.ToUpperInvariant().Replace("-", "") })
            await ProblemAnswer.ReadAsync(await RetryAsync(owner, TenantTasks, variant), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        Assert.That((await owner.GetFromJsonAsync<JsonElement>($"{TenantTasks}/{original}")).GetProperty("retriedBy").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task A_retry_in_a_disabled_tenant_is_refused_as_a_submission_is()
    {
        using var tenant = await TenantAsync("retry-disabled");
        var (imageId, _) = await MissingImageAsync();
        var original = await FailedCreateAsync(tenant, TenantTasks, imageId);
        var patched = await Client.PatchAsJsonAsync("/api/v1/admin/tenants/retry-disabled", new { status = "disabled" });
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patched.Content.ReadAsStringAsync());

        await ProblemAnswer.ReadAsync(await RetryAsync(tenant, TenantTasks, original), HttpStatusCode.Forbidden, ErrorCodes.TenantDisabled);
        var submitted = await Client.PostAsJsonAsync(AdminTasks, new { tenantId = "retry-disabled", action = "vm.create", data = new { name = UniqueName(), imageId } });
        await ProblemAnswer.ReadAsync(submitted, HttpStatusCode.Forbidden, ErrorCodes.TenantDisabled);
        var retried = await ProblemAnswer.ReadAsync(await RetryAsync(Client, AdminTasks, original), HttpStatusCode.Forbidden, ErrorCodes.TenantDisabled);

        // Refused by the saga, like the submission: a task of its own, the newest of the chain.
        Assert.That(Link(await RetriedByAsync(Client, AdminTasks, original), "retriedBy"), Is.EqualTo(retried.GetProperty("taskId").GetString()));
        var quota = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/retry-disabled/quotas");
        Assert.That((quota.GetProperty("vmCount").GetProperty("used").GetInt64(), quota.GetProperty("vmCount").GetProperty("held").GetInt64()), Is.EqualTo((0L, 0L)));
    }
}
