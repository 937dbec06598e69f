using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Api;

[TestFixture]
[Category("Integration")]
public sealed class TaskApiTests : DevHostFixture
{

    private static string UniqueName() => "vm-" + Guid.NewGuid().ToString("N")[..10];

    private Task<HttpResponseMessage> PostRawAsync(string body, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        return Client.SendAsync(request);
    }

    private Task<HttpResponseMessage> PostAsync(object data, string action = "vm.create", string? idempotencyKey = null)
        => PostRawAsync(JsonSerializer.Serialize(new { tenantId = "test1", action, data }), idempotencyKey);

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.That(response.StatusCode, Is.EqualTo(status), await response.Content.ReadAsStringAsync());
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo(code));
        return problem;
    }

    [Test]
    public async Task A_valid_vm_create_is_accepted_with_202_and_a_Location()
    {
        var response = await PostAsync(new { name = UniqueName(), cpu = 1, ram = "1GB" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var taskId = body.GetProperty("taskId").GetString();
        // Absolute, at the gateway as the client reached it (not the orchestrator behind it), with a polling interval.
        Assert.That(response.Headers.Location, Is.EqualTo(new Uri(new Uri(DevHost.Url), $"/api/v1/admin/tasks/{taskId}")));
        Assert.That(response.Headers.Location!.Authority, Is.Not.EqualTo(new Uri(DevHost.App.CoreUrl).Authority));
        Assert.That(response.Headers.GetValues("Retry-After").Single(), Is.EqualTo("2"));
        Assert.That(body.GetProperty("statusUrl").GetString(), Is.EqualTo($"/api/v1/admin/tasks/{taskId}"));
        Assert.That(body.GetProperty("agentId").GetString(), Is.EqualTo(TestDevHost.AgentId));
        Assert.That(body.GetProperty("status").GetString(), Is.AnyOf("sent", "running", "SUCCESS"));

        var task = await Client.GetFromJsonAsync<JsonElement>(response.Headers.Location);
        Assert.That(task.GetProperty("taskId").GetString(), Is.EqualTo(taskId));
    }

    [Test]
    public async Task Null_cloud_init_members_are_absent_ones_and_take_their_defaults()
    {
        var name = "vm_" + Guid.NewGuid().ToString("N")[..8];
        var response = await PostAsync(new Dictionary<string, object?>
        {
            ["name"] = name, ["cpu"] = 1, ["ram"] = "1GB",
            ["cloudInit"] = new Dictionary<string, object?> { ["hostname"] = null, ["user"] = null, ["network"] = null, ["packages"] = null },
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());

        var task = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("data").TryGetProperty("imageFile", out _), because: "the task is enriched");
        var cloudInit = task.GetProperty("data").GetProperty("cloudInit");
        Assert.That(cloudInit.GetProperty("hostname").GetString(), Is.EqualTo(name.Replace('_', '-')), "the VM's name made a host name");
        Assert.That(cloudInit.GetProperty("user").GetString(), Is.EqualTo("openhvx"));
        Assert.That(cloudInit.GetProperty("network").GetProperty("mode").GetString(), Is.EqualTo("dhcp"));
        Assert.That(cloudInit.TryGetProperty("packages", out _), Is.False, "no null reaches the agent");
    }

    [TestCase("""{"name":"bad name!"}""", "data.name")]
    [TestCase("""{"name":"ok","cpu":0}""", "data.cpu")]
    [TestCase("""{"name":"ok","cpu":"2"}""", "data.cpu")]
    [TestCase("""{"name":"ok","ram":"lots"}""", "data.ram")]
    [TestCase("""{"name":"ok","ram":"256MB"}""", "data.ram")]
    [TestCase("""{"name":"ok","color":"blue"}""", "data.color")]
    [TestCase("""{"name":"ok","cloudInit":{"hostname":"a\nruncmd: [x]"}}""", "data.cloudInit.hostname")]
    [TestCase("""{"name":"ok","cloudInit":{"evil":1}}""", "data.cloudInit.evil")]
    [TestCase("""{"cpu":2}""", "data.name")]
    public async Task Invalid_data_gets_422_with_the_field_error(string data, string field)
    {
        var response = await PostRawAsync($$"""{"tenantId":"test1","action":"vm.create","data":{{data}}}""");

        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION");
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out var messages), Is.True, problem.ToString());
        Assert.That(messages.GetArrayLength(), Is.GreaterThan(0));
    }

    [Test]
    public async Task Several_bad_fields_are_reported_together()
    {
        var response = await PostAsync(new { name = "bad name", cpu = 0, ram = "lots", extra = true });

        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION");
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name);
        Assert.That(fields, Is.EquivalentTo(new[] { "data.name", "data.cpu", "data.ram", "data.extra" }));
    }

    [TestCase("{not json")]
    [TestCase("")]
    [TestCase("[1,2]")]
    [TestCase("""{"tenantId":"test1","data":{}}""")]
    [TestCase("""{"tenantId":"test1","action":42}""")]
    [TestCase("""{"tenantId":"test1","action":"vm.create","target":"vm-1","data":{"name":"a"}}""")]
    [TestCase("""{"tenantId":"test1","action":"vm.create","surprise":1,"data":{"name":"a"}}""")]
    public async Task A_malformed_envelope_gets_400(string body)
    {
        await ProblemAsync(await PostRawAsync(body), HttpStatusCode.BadRequest, "ERR_BAD_ENVELOPE");
    }

    [Test]
    public async Task A_body_over_one_megabyte_gets_413_and_no_task()
    {
        var before = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?limit=500");
        var huge = JsonSerializer.Serialize(new { tenantId = "test1", action = "vm.create", data = new { name = "big", pad = new string('x', 1_100_000) } });

        await ProblemAsync(await PostRawAsync(huge), HttpStatusCode.RequestEntityTooLarge, "ERR_PAYLOAD_TOO_LARGE");

        var after = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?limit=500");
        Assert.That(after.GetProperty("items").GetArrayLength(), Is.EqualTo(before.GetProperty("items").GetArrayLength()));
    }

    [Test]
    public async Task An_unknown_action_gets_400()
    {
        await ProblemAsync(await PostAsync(new { name = "a" }, action: "vm.explode"), HttpStatusCode.BadRequest, "ERR_UNKNOWN_ACTION");
    }

    [Test]
    public async Task An_admin_request_without_tenant_gets_400()
    {
        await ProblemAsync(await PostRawAsync("""{"action":"vm.create","data":{"name":"a"}}"""), HttpStatusCode.BadRequest, "ERR_TENANT_REQUIRED");
    }

    [Test]
    public async Task An_unknown_image_gets_422_ERR_IMAGE_NOT_FOUND()
    {
        var response = await PostAsync(new { name = UniqueName(), imageId = "NoSuchImage.latest" });

        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity, "ERR_IMAGE_NOT_FOUND");
        Assert.That(problem.GetProperty("taskId").GetString(), Is.Not.Empty);
    }

    [Test]
    public async Task A_second_vm_with_a_taken_name_gets_409_ERR_NAME_TAKEN()
    {
        var name = UniqueName();
        Assert.That((await PostAsync(new { name })).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        await ProblemAsync(await PostAsync(new { name = name.ToUpperInvariant() }), HttpStatusCode.Conflict, "ERR_NAME_TAKEN");
    }

    [Test]
    public async Task The_same_Idempotency_Key_returns_the_same_task()
    {
        var key = Guid.NewGuid().ToString();
        var data = new { name = UniqueName() };

        var first = await PostAsync(data, idempotencyKey: key);
        var second = await PostAsync(data, idempotencyKey: key);

        Assert.That((first.StatusCode, second.StatusCode), Is.EqualTo((HttpStatusCode.Accepted, HttpStatusCode.Accepted)));
        var firstId = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString();
        var secondId = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString();
        Assert.That(secondId, Is.EqualTo(firstId));
        Assert.That(second.Headers.Location, Is.EqualTo(new Uri(new Uri(DevHost.Url), $"/api/v1/admin/tasks/{firstId}")), "the replay's Location is absolute too");
        Assert.That(second.Headers.GetValues("Retry-After").Single(), Is.EqualTo("2"));
    }

    [Test]
    public async Task A_key_claimed_by_an_attempt_that_broke_before_the_saga_had_the_task_submits_that_task_again()
    {
        var key = Guid.NewGuid().ToString();
        var body = JsonSerializer.Serialize(new { tenantId = "test1", action = "vm.create", data = new { name = UniqueName() } });
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(JsonDocument.Parse(body).RootElement.GetRawText())));
        var orphan = Guid.NewGuid();
        // The first attempt claimed the key, then the process died before the task reached the saga.
        await DevHost.Services.GetRequiredService<OpenHvx.Orchestrator.Tasks.IIdempotencyStore>().TryClaimAsync("test1", key, hash, orphan);

        var response = await PostRawAsync(body, key);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetGuid(), Is.EqualTo(orphan));
        var task = await Client.GetAsync($"/api/v1/admin/tasks/{orphan}");
        Assert.That(task.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the status URL of the answer leads to a real task");
    }

    [Test]
    public async Task The_same_Idempotency_Key_with_another_body_gets_409()
    {
        var key = Guid.NewGuid().ToString();
        Assert.That((await PostAsync(new { name = UniqueName() }, idempotencyKey: key)).StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        await ProblemAsync(await PostAsync(new { name = UniqueName() }, idempotencyKey: key), HttpStatusCode.Conflict, "ERR_IDEMPOTENCY_CONFLICT");
    }

    [Test]
    public async Task An_unknown_task_id_gets_404()
    {
        await ProblemAsync(await Client.GetAsync($"/api/v1/admin/tasks/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        await ProblemAsync(await Client.GetAsync("/api/v1/admin/tasks/not-a-guid"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
    }

    [Test]
    public async Task The_task_list_filters_by_tenant_and_action_newest_first()
    {
        var a = await (await PostAsync(new { name = UniqueName() })).Content.ReadFromJsonAsync<JsonElement>();
        var b = await (await PostAsync(new { name = UniqueName() })).Content.ReadFromJsonAsync<JsonElement>();

        var list = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=test1&action=vm.create&limit=500");
        var ids = list.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()).ToList();
        Assert.That(ids.IndexOf(b.GetProperty("taskId").GetString()), Is.LessThan(ids.IndexOf(a.GetProperty("taskId").GetString())));
        Assert.That(ids.IndexOf(a.GetProperty("taskId").GetString()), Is.GreaterThanOrEqualTo(0));

        var none = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=nobody");
        Assert.That(none.GetProperty("items").GetArrayLength(), Is.Zero);
        await ProblemAsync(await Client.GetAsync("/api/v1/admin/tasks?limit=abc"), HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION");
    }

    [Test]
    public async Task The_task_list_filters_the_tasks_in_flight_and_refuses_another_value()
    {
        var agent = DevHost.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OpenHvx.HyperVAgent.AgentOptions>>().Value;
        var host = DevHost.Services.GetRequiredService<OpenHvx.HyperVAgent.Telemetry.SimulatedHost>();
        var ended = (await PostAsync(new { name = UniqueName() })).Headers.Location!;
        var endedTask = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(ended), t => t.GetProperty("status").GetString() == "SUCCESS",
            TimeSpan.FromSeconds(30), "the first task succeeds");
        agent.Simulated.LatencyMs["New-VM"] = 5000;
        host.WriteConfig();
        try
        {
            var slow = (await PostAsync(new { name = UniqueName() })).Headers.Location!;
            var slowTask = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(slow), t => t.GetProperty("status").GetString() == "running",
                TimeSpan.FromSeconds(30), "the slow task runs");

            var inFlight = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=test1&inFlight=true&limit=500");
            var ids = inFlight.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()).ToList();
            Assert.That(ids, Does.Contain(slowTask.GetProperty("taskId").GetString()).And.Not.Contain(endedTask.GetProperty("taskId").GetString()));
            Assert.That(inFlight.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("status").GetString()),
                Has.None.AnyOf("SUCCESS", "FAILED", "CANCELED"));

            var stuck = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=test1&inFlight=true&olderThanSeconds=3600");
            Assert.That(stuck.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()),
                Does.Not.Contain(slowTask.GetProperty("taskId").GetString()), "not in flight for an hour");
        }
        finally
        {
            agent.Simulated.LatencyMs.Remove("New-VM");
            host.WriteConfig();
        }
        var problem = await ProblemAsync(await Client.GetAsync("/api/v1/admin/tasks?inFlight=yes"), HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION");
        Assert.That(problem.GetProperty("errors").TryGetProperty("inFlight", out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task Health_endpoints_answer()
    {
        Assert.That((await Client.GetAsync("/health/live")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Client.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
