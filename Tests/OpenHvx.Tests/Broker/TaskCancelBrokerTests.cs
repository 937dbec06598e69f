using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>Cancel over separate processes on RabbitMQ: the agent, on its own broker user, gets the cancel on its control queue.</summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class TaskCancelBrokerTests
{
    [Test]
    public async Task A_cancel_reaches_the_agent_on_its_control_queue_stops_its_running_create_and_is_published_CANCELED_on_task_events()
    {
        // The create waits in Set-VMProcessor, after New-VM: the VM is on the host when the cancel comes.
        await using var stack = await ProcessStack.StartAsync(
            new Dictionary<string, string> { ["Orchestrator__CancelWait"] = "00:00:30" },
            new AgentSpec("agent-a", Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__Set-VMProcessor"] = "120000" }));
        try
        {
            Assert.That(await stack.Broker.ConsumersOnAsync("agent.agent-a.control"), Is.EqualTo(1), "the agent's broker user consumes its control queue");
            var bindings = await stack.Broker.BindingsAsync();
            Assert.That(bindings.EnumerateArray().Any(b => b.GetProperty("source_name").GetString() == "jobs"
                && b.GetProperty("destination_name").GetString() == "agent.agent-a.control" && b.GetProperty("routing_key").GetString() == "agent.agent-a.control"),
                Is.True, "bound to jobs by the orchestrator");

            // A subscriber of task.events, as an operator's system binds it.
            await using var connection = await new ConnectionFactory { Uri = new Uri(stack.Broker.Url) }.CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();
            var events = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(events, "task.events", "test1.vm.create.CANCELED");

            var created = await stack.CreateVmAsync("doomed");
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await created.Content.ReadAsStringAsync());
            var location = created.Headers.Location!;
            await stack.WaitForStatusAsync(location, "running");
            var vms = Path.Combine(stack.AgentDataPath("agent-a"), "sim", "vms");
            int VmsNamedDoomed() => Directory.Exists(vms) ? Directory.GetFiles(vms, "*.json").Count(f => File.ReadAllText(f).Contains("\"test1.doomed\"")) : 0;
            await Eventually.True(() => Task.FromResult(VmsNamedDoomed() == 1), TimeSpan.FromSeconds(30), "the VM is built");

            var response = await stack.Api.PostAsync(location + "/cancel", null);

            var task = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"{task}\n{stack.Logs}");
            Assert.That((task.GetProperty("status").GetString(), task.GetProperty("error").GetProperty("code").GetString()), Is.EqualTo(("CANCELED", "ERR_CANCELED")));
            Assert.That(task.GetProperty("startedAt").ValueKind, Is.Not.EqualTo(JsonValueKind.Null), "it was running");
            Assert.That(VmsNamedDoomed(), Is.Zero, "the VM is gone from the host");
            Assert.That(stack.Agents[0].Output, Does.Contain("was canceled while it ran; its script was stopped"));
            var quota = await stack.QuotaAsync();
            foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
                Assert.That((quota.GetProperty(line).GetProperty("used").GetInt64(), quota.GetProperty(line).GetProperty("held").GetInt64()), Is.EqualTo((0L, 0L)), line);

            var message = await Eventually.Get(() => channel.BasicGetAsync(events, autoAck: true), m => m is not null, because: "the CANCELED event is published");
            var change = JsonDocument.Parse(message!.Body).RootElement;
            Assert.That(message.RoutingKey, Is.EqualTo("test1.vm.create.CANCELED"));
            Assert.That((change.GetProperty("taskId").GetString(), change.GetProperty("from").GetString(), change.GetProperty("to").GetString(),
                change.GetProperty("status").GetString(), change.GetProperty("errorCode").GetString()),
                Is.EqualTo((task.GetProperty("taskId").GetString(), "Canceling", "Canceled", "CANCELED", "ERR_CANCELED")));
        }
        catch
        {
            await TestContext.Out.WriteLineAsync(stack.Logs);
            throw;
        }
    }
}
