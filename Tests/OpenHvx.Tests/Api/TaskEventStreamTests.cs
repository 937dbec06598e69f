using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Api;

/// <summary>
/// Task events as server-sent events, over real HTTP through the gateway with real tokens: tenants east and west each have a
/// writer and east a reader; New-VM takes a while so that a stream can be left while its task runs.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class TaskEventStreamTests : DevHostFixture
{
    private const int MaxStreams = 3;

    private readonly Dictionary<string, HttpClient> _tenants = [];

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Agent:Simulated:LatencyMs:New-VM"] = "1500",
        ["Orchestrator:EventStreams:MaxStreamsPerTenant"] = MaxStreams.ToString(),
    };

    [OneTimeSetUp]
    public async Task CreateTenantsAsync()
    {
        foreach (var tenant in new[] { "east", "west", "north" })
            Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = tenant, name = tenant })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        foreach (var (user, tenant, role) in new[]
                 {
                     ("east-rw", "east", "tenant-user-rw"), ("east-r", "east", "tenant-user-r"), ("west-rw", "west", "tenant-user-rw"),
                     ("north-r", "north", "tenant-user-r"),
                 })
            _tenants[user] = await Tokens.TenantClientAsync(Client, DevHost.Url, user, tenant, role);
    }

    [OneTimeTearDown]
    public void DisposeClients()
    {
        foreach (var client in _tenants.Values)
            client.Dispose();
    }

    private static string UniqueName() => "sse-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Submits a vm.create as the tenant user; returns the task id (202 required).</summary>
    private async Task<Guid> SubmitAsync(string user)
    {
        var response = await _tenants[user].PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name = UniqueName(), cpu = 1, ram = "1GB" } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetGuid();
    }

    private async Task<IReadOnlyList<TaskEvent>> LogOfAsync(Guid taskId)
        => await DevHost.Services.GetRequiredService<ITaskEventLog>().ReadAsync(new TaskEventQuery(0, 1000, TaskId: taskId), CancellationToken.None);

    private static Guid TaskIdOf(SseItem<string> item) => EventStreamClient.Data(item).GetProperty("taskId").GetGuid();

    private static string[] Ids(IEnumerable<SseItem<string>> items) => [.. items.Select(i => i.EventId!)];

    private static string[] Ids(IEnumerable<TaskEvent> events) => [.. events.Select(e => e.Sequence.ToString())];

    private static async Task ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo(code), text);
        if (field is not null)
            Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, text);
    }

    [Test]
    public async Task A_task_stream_shows_a_vm_create_from_its_first_event_in_order_up_to_SUCCESS_then_ends()
    {
        var taskId = await SubmitAsync("east-rw");

        await using var stream = await EventStreamClient.OpenAsync(_tenants["east-rw"], $"/api/v1/tenant/tasks/{taskId}/events");
        var items = await stream.ReadToEndAsync();

        Assert.That(stream.Response.Headers.CacheControl?.NoCache, Is.True);
        Assert.That(items.Select(i => i.EventType).Last(), Is.EqualTo("vm.create.SUCCESS"));
        Assert.That(items.Select(i => i.EventType), Has.Some.EqualTo("vm.create.running"));
        var log = await LogOfAsync(taskId);
        Assert.That(Ids(items), Is.EqualTo(Ids(log)), "exactly the task's logged events, in order");
        Assert.That(items.Select(i => long.Parse(i.EventId!)), Is.Ordered.Ascending);
        var first = EventStreamClient.Data(items[0]);
        Assert.That(first.GetProperty("id").GetString(), Is.EqualTo(items[0].EventId));
        Assert.That(first.GetProperty("type").GetString(), Is.EqualTo(items[0].EventType));
        Assert.That(first.GetProperty("taskId").GetGuid(), Is.EqualTo(taskId));
        Assert.That(first.GetProperty("tenantId").GetString(), Is.EqualTo("east"));
        Assert.That(first.EnumerateObject().Select(p => p.Name), Is.SubsetOf(new[] { "id", "type", "taskId", "tenantId", "action", "from", "state", "status", "at", "errorCode" }));
    }

    [Test]
    public async Task A_stream_left_mid_way_and_resumed_with_Last_Event_ID_gets_exactly_the_remaining_events()
    {
        var taskId = await SubmitAsync("east-rw");
        var path = $"/api/v1/tenant/tasks/{taskId}/events";

        List<SseItem<string>> before;
        await using (var stream = await EventStreamClient.OpenAsync(_tenants["east-rw"], path))
            before = await stream.ReadUntilAsync(i => i.EventType == "vm.create.running");
        var task = await _tenants["east-rw"].GetFromJsonAsync<JsonElement>($"/api/v1/tenant/tasks/{taskId}");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("running"), "left while the task runs");

        await using var resumed = await EventStreamClient.OpenAsync(_tenants["east-rw"], path, lastEventId: before[^1].EventId);
        var after = await resumed.ReadToEndAsync();

        Assert.That(after.Select(i => i.EventType).Last(), Is.EqualTo("vm.create.SUCCESS"));
        Assert.That(Ids(before.Concat(after)), Is.EqualTo(Ids(await LogOfAsync(taskId))), "no gap, no duplicate");
    }

    [Test]
    public async Task The_tenant_stream_resumes_after_the_query_cursor_of_clients_that_cannot_set_headers()
    {
        var first = await SubmitAsync("east-rw");
        var second = await SubmitAsync("east-rw");
        await Eventually.True(async () => (await LogOfAsync(second)).Any(e => e.Status == "SUCCESS"), TimeSpan.FromSeconds(60), "both tasks end");
        var firstLog = await LogOfAsync(first);

        await using var stream = await EventStreamClient.OpenAsync(_tenants["east-r"], $"/api/v1/tenant/events?lastEventId={firstLog[0].Sequence}");
        var items = await stream.ReadUntilAsync(i => TaskIdOf(i) == second && i.EventType == "vm.create.SUCCESS");

        var expected = (await DevHost.Services.GetRequiredService<ITaskEventLog>().ReadAsync(
            new TaskEventQuery(firstLog[0].Sequence, 1000, TenantId: "east"), CancellationToken.None)).TakeWhile(e => e.Sequence <= long.Parse(items[^1].EventId!));
        Assert.That(Ids(items), Is.EqualTo(Ids(expected)));
        Assert.That(items.Select(TaskIdOf), Has.Some.EqualTo(first).And.Some.EqualTo(second));
    }

    [Test]
    public async Task A_tenants_stream_never_shows_another_tenants_events()
    {
        await using var east = await EventStreamClient.OpenAsync(_tenants["east-r"], "/api/v1/tenant/events");
        await using var west = await EventStreamClient.OpenAsync(_tenants["west-rw"], "/api/v1/tenant/events");
        var westTask = await SubmitAsync("west-rw");
        var westItems = await west.ReadUntilAsync(i => i.EventType == "vm.create.SUCCESS");
        var eastTask = await SubmitAsync("east-rw");

        // Sequences follow commit order: east's stream has read past west's events by the time it shows its own task's end.
        var eastItems = await east.ReadUntilAsync(i => TaskIdOf(i) == eastTask && i.EventType == "vm.create.SUCCESS");

        Assert.That(eastItems.Select(i => EventStreamClient.Data(i).GetProperty("tenantId").GetString()), Is.All.EqualTo("east"));
        Assert.That(eastItems.Select(TaskIdOf), Has.None.EqualTo(westTask));
        Assert.That(westItems.Select(TaskIdOf), Is.All.EqualTo(westTask));
    }

    [Test]
    public async Task Another_tenants_task_stream_or_an_unknown_one_is_not_found()
    {
        var westTask = await SubmitAsync("west-rw");

        await ProblemAsync(await EventStreamClient.SendAsync(_tenants["east-rw"], $"/api/v1/tenant/tasks/{westTask}/events"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        await ProblemAsync(await EventStreamClient.SendAsync(_tenants["east-rw"], $"/api/v1/tenant/tasks/{Guid.NewGuid()}/events"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
        await ProblemAsync(await EventStreamClient.SendAsync(_tenants["east-rw"], "/api/v1/tenant/tasks/not-a-task/events"), HttpStatusCode.NotFound, "ERR_NOT_FOUND");
    }

    [Test]
    public async Task An_admin_stream_filtered_by_tenant_and_status_shows_only_those_events()
    {
        await using var west = await EventStreamClient.OpenAsync(Client, "/api/v1/admin/events?tenantId=west");
        await using var westSuccesses = await EventStreamClient.OpenAsync(Client, "/api/v1/admin/events?tenantId=west&action=vm.create&status=SUCCESS");
        var eastTask = await SubmitAsync("east-rw");
        var westTask = await SubmitAsync("west-rw");

        var items = await west.ReadUntilAsync(i => TaskIdOf(i) == westTask && i.EventType == "vm.create.SUCCESS");
        var successes = await westSuccesses.ReadUntilAsync(i => TaskIdOf(i) == westTask);

        Assert.That(items.Select(i => EventStreamClient.Data(i).GetProperty("tenantId").GetString()), Is.All.EqualTo("west"));
        Assert.That(items.Select(TaskIdOf), Has.None.EqualTo(eastTask));
        Assert.That(Ids(items.Where(i => TaskIdOf(i) == westTask)), Is.EqualTo(Ids(await LogOfAsync(westTask))));
        Assert.That(successes.Select(i => i.EventType), Is.All.EqualTo("vm.create.SUCCESS"));
    }

    [Test]
    public async Task An_admin_streams_any_tenants_task()
    {
        var westTask = await SubmitAsync("west-rw");

        await using var stream = await EventStreamClient.OpenAsync(Client, $"/api/v1/admin/tasks/{westTask}/events");
        var items = await stream.ReadToEndAsync();

        Assert.That(Ids(items), Is.EqualTo(Ids(await LogOfAsync(westTask))));
    }

    [Test]
    public async Task An_ended_task_stream_resumed_after_its_last_event_answers_204_so_clients_stop_reconnecting()
    {
        var taskId = await SubmitAsync("east-rw");
        List<SseItem<string>> items;
        await using (var stream = await EventStreamClient.OpenAsync(_tenants["east-rw"], $"/api/v1/tenant/tasks/{taskId}/events"))
            items = await stream.ReadToEndAsync();

        using var again = await EventStreamClient.SendAsync(_tenants["east-rw"], $"/api/v1/tenant/tasks/{taskId}/events", lastEventId: items[^1].EventId);

        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
    }

    [TestCase("/api/v1/admin/events?lastEventId=-1", null, "lastEventId")]
    [TestCase("/api/v1/admin/events?after=abc", null, "after")]
    [TestCase("/api/v1/admin/events", "1.5", "Last-Event-ID")]
    [TestCase("/api/v1/admin/events", "99999999999", "Last-Event-ID")]
    [TestCase("/api/v1/admin/events?tenantId=Not%20a%20tenant", null, "tenantId")]
    [TestCase("/api/v1/admin/events?taskId=nope", null, "taskId")]
    [TestCase("/api/v1/admin/events?action=vm.explode", null, "action")]
    [TestCase("/api/v1/admin/events?status=done", null, "status")]
    public async Task A_bad_cursor_or_filter_gets_422_naming_the_field(string path, string? lastEventId, string field)
    {
        using var response = await EventStreamClient.SendAsync(Client, path, lastEventId);

        await ProblemAsync(response, HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION", field);
    }

    [Test]
    public async Task A_bad_Last_Event_ID_on_a_tenants_task_stream_gets_422()
    {
        var taskId = await SubmitAsync("east-rw");

        using var response = await EventStreamClient.SendAsync(_tenants["east-r"], $"/api/v1/tenant/tasks/{taskId}/events", lastEventId: "x");

        await ProblemAsync(response, HttpStatusCode.UnprocessableEntity, "ERR_VALIDATION", "Last-Event-ID");
    }

    [Test]
    public async Task A_tenant_may_hold_a_bounded_number_of_streams_and_gets_429_with_Retry_After_beyond()
    {
        var streams = new List<EventStreamClient>();
        try
        {
            for (var i = 0; i < MaxStreams; i++)
                streams.Add(await EventStreamClient.OpenAsync(_tenants["north-r"], "/api/v1/tenant/events"));

            using var refused = await EventStreamClient.SendAsync(_tenants["north-r"], "/api/v1/tenant/events");
            Assert.That(refused.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
            await ProblemAsync(refused, HttpStatusCode.TooManyRequests, "ERR_RATE_LIMITED");
            await using (var other = await EventStreamClient.OpenAsync(_tenants["east-r"], "/api/v1/tenant/events"))
                Assert.That(other.Response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another tenant is not limited by this one");

            await streams[0].DisposeAsync();
            streams.RemoveAt(0);
            var reopened = await Eventually.Get(() => EventStreamClient.SendAsync(_tenants["north-r"], "/api/v1/tenant/events"),
                r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "a closed stream frees its place");
            reopened.Dispose();
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync();
        }
    }

    [Test]
    public async Task An_idle_stream_reads_the_log_about_once_per_poll_interval()
    {
        var streams = DevHost.Services.GetRequiredService<TaskEventStreams>();
        await Eventually.True(() => Task.FromResult(streams.OpenCount == 0), TimeSpan.FromSeconds(20), "the other tests' streams have ended");

        await using var stream = await EventStreamClient.OpenAsync(_tenants["north-r"], "/api/v1/tenant/events");
        await Eventually.True(() => Task.FromResult(streams.OpenCount == 1), TimeSpan.FromSeconds(10), "the stream is served");
        var before = streams.LogReads;
        var window = TimeSpan.FromSeconds(8);
        // The time that passes is what is measured.
        await Task.Delay(window);
        var reads = streams.LogReads - before;

        // Polled every 2 s (Orchestrator:EventStreams:PollInterval): about 4 reads in 8 s, at most one per second.
        Assert.That(reads, Is.InRange(2, (long)window.TotalSeconds), $"{reads} reads in {window.TotalSeconds} s");
    }
}
