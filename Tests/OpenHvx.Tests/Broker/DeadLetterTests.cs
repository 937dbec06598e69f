using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// What lands in the orchestrator's error queues is moved into its dead letters: listed by the admin route and the task's
/// admin view, and replayable through the relay's checks (with the stored sender as the broker identity).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class DeadLetterTests
{
    // Broker users are broker-wide: ids of this fixture's own, so that stacks of other fixtures running beside it never collide.
    private static readonly string Suffix = Guid.NewGuid().ToString("N")[..6];
    private static readonly string AgentA = "dl-a-" + Suffix;
    private static readonly string AgentB = "dl-b-" + Suffix;
    private ProcessStack? _stack;
    private IConnection? _agentB;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // Every vm.create goes to agent A (agent B has no script for it) and stays running long enough to be interfered with.
        // The transient retry keeps its default (minutes): a refused message seen within seconds was not retried.
        _stack = await ProcessStack.StartAsync(
            new AgentSpec(AgentA, Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "60000" }),
            new AgentSpec(AgentB, WithoutVmCreate: true));
        _agentB = await new ConnectionFactory { Uri = new Uri(_stack.AgentBrokerUrl(AgentB)) }.CreateConnectionAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_agentB is not null)
            await _agentB.DisposeAsync();
        if (_stack is null)
            return;
        if (TestContext.CurrentContext.Result.FailCount > 0)
            await TestContext.Out.WriteLineAsync(_stack.Logs);
        await _stack.DisposeAsync();
    }

    private async Task<(Uri Location, Guid TaskId)> RunningTaskOfAgentAAsync()
    {
        var response = await _stack!.CreateVmAsync("vm-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForStatusAsync(response.Headers.Location!, "running");
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo(AgentA));
        return (response.Headers.Location!, Guid.Parse(task.GetProperty("taskId").GetString()!));
    }

    private static byte[] Result(Guid taskId, Guid vmGuid) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        taskId,
        agentId = AgentA,
        ok = true,
        result = new { vm = new { guid = vmGuid, name = "replayed" } },
        startedAt = DateTimeOffset.UtcNow,
        finishedAt = DateTimeOffset.UtcNow,
    });

    private async Task<JsonElement> ForgedResultLetterAsync()
    {
        var (_, taskId) = await RunningTaskOfAgentAAsync();
        await using (var channel = await _agentB!.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
            await channel.BasicPublishAsync("results", $"task.{taskId}", false,
                new BasicProperties { ContentType = "application/json", Persistent = true, UserId = "agent." + AgentB }, Result(taskId, Guid.NewGuid()));
        return (await _stack!.WaitForDeadLettersAsync(taskId)).Single();
    }

    private Task<HttpResponseMessage> ReplayAsync(JsonElement letter)
        => _stack!.Api.PostAsync($"/api/v1/admin/dead-letters/{letter.GetProperty("id").GetString()}/replay", null);

    [Test]
    public async Task A_refused_result_goes_to_the_error_queue_at_once_and_is_listed_with_its_sender_and_reason()
    {
        var letter = await ForgedResultLetterAsync();
        var taskId = letter.GetProperty("taskId").GetGuid();

        Assert.That(letter.GetProperty("queue").GetString(), Is.EqualTo("orchestrator.results_error"));
        Assert.That(letter.GetProperty("routingKey").GetString(), Is.EqualTo($"task.{taskId}"));
        Assert.That(letter.GetProperty("senderUser").GetString(), Is.EqualTo("agent." + AgentB));
        Assert.That(letter.GetProperty("reason").GetString(), Does.Contain("needs AMQP user_id agent." + AgentA));
        Assert.That(letter.GetProperty("exceptionType").GetString(), Does.Contain("RejectedWireMessageException"));
        Assert.That(JsonDocument.Parse(letter.GetProperty("body").GetString()!).RootElement.GetProperty("taskId").GetGuid(), Is.EqualTo(taskId));
        Assert.That(letter.GetProperty("replayedAt").ValueKind, Is.EqualTo(JsonValueKind.Null));

        var task = await _stack!.Api.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}");
        Assert.That(task.GetProperty("deadLetters").EnumerateArray().Select(l => l.GetProperty("id").GetString()), Is.EqualTo(new[] { letter.GetProperty("id").GetString() }),
            "the admin view of the task lists it");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("running"), "the forgery changed nothing");
        Assert.That(await _stack.Broker.MessagesInAsync("orchestrator.results_error"), Is.Zero, "moved out of the error queue");
    }

    [Test]
    public async Task Replaying_a_refused_result_is_refused_again_with_a_code_and_the_entry_stays()
    {
        var letter = await ForgedResultLetterAsync();

        var response = await ReplayAsync(letter);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_MESSAGE_REFUSED"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("agent." + AgentB));
        var stored = (await _stack!.DeadLettersAsync(letter.GetProperty("taskId").GetGuid())).Single();
        Assert.That(stored.GetProperty("replayedAt").ValueKind, Is.EqualTo(JsonValueKind.Null), "not replayed");
        var task = await _stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{letter.GetProperty("taskId").GetGuid()}");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("running"));
    }

    [Test]
    public async Task Replaying_a_dead_lettered_valid_result_finishes_its_task_once()
    {
        var (location, taskId) = await RunningTaskOfAgentAAsync();
        var vmGuid = Guid.NewGuid();
        // agent-a's result as the relay would have set it aside after its retries ran out (a store that refused writes for
        // longer): moved to orchestrator.results_error without user_id, its sender in x-openhvx-user-id, MassTransit's fault headers.
        await using (var connection = await new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var properties = new BasicProperties
            {
                ContentType = "application/json",
                Persistent = true,
                CorrelationId = taskId.ToString(),
                Headers = new Dictionary<string, object?>
                {
                    ["x-openhvx-user-id"] = "agent." + AgentA,
                    ["MT-Reason"] = "fault",
                    ["MT-Fault-ExceptionType"] = "Microsoft.Data.Sqlite.SqliteException",
                    ["MT-Fault-Message"] = "SQLite Error 13: 'database or disk is full'.",
                    ["MT-Fault-Timestamp"] = DateTimeOffset.UtcNow.ToString("O"),
                },
            };
            await channel.BasicPublishAsync("orchestrator.results_error", $"task.{taskId}", false, properties, Result(taskId, vmGuid));
        }
        var letter = (await _stack.WaitForDeadLettersAsync(taskId)).Single();
        Assert.That((letter.GetProperty("senderUser").GetString(), letter.GetProperty("reason").GetString()),
            Is.EqualTo(("agent." + AgentA, "SQLite Error 13: 'database or disk is full'.")));

        var response = await ReplayAsync(letter);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForFinalAsync(location);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        Assert.That(task.GetProperty("result").GetProperty("vm").GetProperty("guid").GetGuid(), Is.EqualTo(vmGuid), "finished by the replayed result");
        var stored = (await _stack.DeadLettersAsync(taskId)).Single();
        Assert.That(stored.GetProperty("replayedAt").ValueKind, Is.EqualTo(JsonValueKind.String), "marked replayed");

        var again = await ReplayAsync(letter);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_ALREADY_REPLAYED"));
    }

    [Test]
    public async Task The_dead_letter_routes_answer_bad_ids_and_filters_with_a_4xx_problem()
    {
        var list = await _stack!.Api.GetAsync("/api/v1/admin/dead-letters?taskId=not-a-guid");
        Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That((await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_VALIDATION"));
        foreach (var id in new[] { "nope", Guid.NewGuid().ToString() })
        {
            var replay = await _stack.Api.PostAsync($"/api/v1/admin/dead-letters/{id}/replay", null);
            Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), id);
            Assert.That((await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_NOT_FOUND"));
        }
    }
}
