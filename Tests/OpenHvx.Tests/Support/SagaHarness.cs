using System.Text.Json;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Tests.Support;

public enum FakeAgentMode
{
    Succeed,
    Fail,
    Silent,
}

/// <summary>Plays the agent in saga tests: answers each task as told (on queue agent.&lt;id&gt;.tasks).</summary>
public sealed class FakeAgentBehaviour
{
    public FakeAgentMode Mode { get; set; } = FakeAgentMode.Succeed;
    public List<AgentTask> Received { get; } = [];
    /// <summary>The cancels that reached the agent's control queue (it does not answer them: tests do).</summary>
    public List<AgentTaskCancel> Cancels { get; } = [];

    public static AgentTaskResult Success(Guid taskId, string agentId, Guid? vmId = null, string name = "web1")
        => new(taskId, agentId, true, JsonSerializer.SerializeToElement(new { vm = new { guid = vmId ?? Guid.NewGuid(), name } }), null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
}

/// <summary>Answers as soon as it receives a task, as a real agent does: it never waits for the saga.</summary>
public sealed class FakeAgentConsumer(FakeAgentBehaviour behaviour) : IConsumer<AgentTask>
{
    public async Task Consume(ConsumeContext<AgentTask> context)
    {
        lock (behaviour.Received)
            behaviour.Received.Add(context.Message);
        var task = context.Message;
        switch (behaviour.Mode)
        {
            case FakeAgentMode.Succeed:
                await context.Publish(new AgentTaskStarted(task.TaskId, task.AgentId, DateTimeOffset.UtcNow));
                var name = task.Data.TryGetProperty("name", out var n) ? n.GetString()! : "vm";
                await context.Publish(FakeAgentBehaviour.Success(task.TaskId, task.AgentId, name: name));
                break;
            case FakeAgentMode.Fail:
                await context.Publish(new AgentTaskResult(task.TaskId, task.AgentId, false, null,
                    new AgentError("ERR_SIMULATED_FAULT", "injected"), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow));
                break;
        }
    }
}

/// <summary>Records the cancels sent to the fake agent's control queue.</summary>
public sealed class FakeAgentControlConsumer(FakeAgentBehaviour behaviour) : IConsumer<AgentTaskCancel>
{
    public Task Consume(ConsumeContext<AgentTaskCancel> context)
    {
        lock (behaviour.Cancels)
            behaviour.Cancels.Add(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The orchestrator's saga and consumers on MassTransit's test harness, with a real SQLite file and
/// a fake agent <c>agent-1</c>.
/// </summary>
public sealed class SagaHarness : IAsyncDisposable
{
    public const string AgentId = "agent-1";
    public const string TenantId = "tenant1";

    private readonly TempFolder _folder = new("saga");
    private readonly ServiceProvider _provider;

    private SagaHarness(Action<IServiceCollection>? configure, IDictionary<string, string?>? settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Orchestrator:Database"] = _folder.File("orchestrator.db"),
            ["Orchestrator:SweepInterval"] = "00:00:00.050",
            ["Orchestrator:SubmitWait"] = "00:00:10",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            values[key] = value;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton<IConfiguration>(configuration);
        services.AddOrchestrator(configuration);
        services.AddSingleton<FakeAgentBehaviour>();
        configure?.Invoke(services);
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddOrchestratorConsumers();
            bus.AddConsumer<FakeAgentConsumer>().Endpoint(e => e.Name = WireTopology.AgentQueue(AgentId));
            bus.AddConsumer<FakeAgentControlConsumer>().Endpoint(e => e.Name = WireTopology.AgentControlQueue(AgentId));
        });
        _provider = services.BuildServiceProvider(validateScopes: true);
    }

    public static async Task<SagaHarness> StartAsync(Action<IServiceCollection>? configure = null, IDictionary<string, string?>? settings = null,
        QuotaAmounts? limits = null, bool withAgent = true)
    {
        var harness = new SagaHarness(configure, settings);
        await harness.Harness.Start();
        await harness.Get<ITenantStore>().UpsertAsync(new Tenant(TenantId, "Tenant 1", Tenant.Active, limits ?? new QuotaAmounts(-1, -1, -1, -1)));
        await harness.Get<IImageStore>().TryAddAsync(new Image("rocky.10", "rocky", "10", "rocky-10.vhdx", 2, 10, "rocky", true, DateTimeOffset.UtcNow));
        if (withAgent)
            await harness.HeartbeatAsync();
        return harness;
    }

    public ITestHarness Harness => _provider.GetRequiredService<ITestHarness>();
    public FakeAgentBehaviour Agent => Get<FakeAgentBehaviour>();
    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    public Task HeartbeatAsync(string agentId = AgentId, AgentCapacity? capacity = null, string[]? capabilities = null)
    {
        capacity ??= new AgentCapacity(64, 131072, 1048576);
        return Get<IAgentStore>().RecordHeartbeatAsync(
            new AgentHeartbeat("test", agentId, DateTimeOffset.UtcNow, "host-1", capabilities ?? [ActionNames.VmCreate], capacity, capacity, 0,
                Status: AgentStatuses.Active, IntervalSeconds: 15), DateTimeOffset.UtcNow);
    }

    public static SubmitTask VmCreate(string name = "web1", int cpu = 2, string ram = "2GB", string? image = null, Guid? taskId = null)
        => new(taskId ?? NewId.NextGuid(), TenantId, ActionNames.VmCreate, null,
            JsonSerializer.SerializeToElement(image is null ? (object)new { name, cpu, ram } : new { name, cpu, ram, imageId = image }), "test", DateTimeOffset.UtcNow);

    /// <summary>Submits through MassTransit request/response, as the API does.</summary>
    public async Task<Response<TaskAccepted, TaskRejected>> SubmitAsync(SubmitTask task)
        => await Harness.GetRequestClient<SubmitTask>().GetResponse<TaskAccepted, TaskRejected>(task);

    /// <summary>Cancels through MassTransit request/response, as the API does.</summary>
    public async Task<Response<TaskCancelAnswered, TaskNotFound>> CancelAsync(Guid taskId, string user = "alice", bool byAdmin = false)
        => await Harness.GetRequestClient<CancelTask>().GetResponse<TaskCancelAnswered, TaskNotFound>(new CancelTask(taskId, user, byAdmin, DateTimeOffset.UtcNow));

    public Task<TaskState?> LoadAsync(Guid taskId) => Get<ITaskStore>().LoadAsync(taskId, CancellationToken.None);

    public async Task<TaskState> WaitForStateAsync(Guid taskId, string state, TimeSpan? timeout = null)
        => (await Eventually.Get(() => LoadAsync(taskId), t => t?.CurrentState == state, timeout, $"task {taskId} in {state}"))!;

    public async Task<QuotaUsage> UsageAsync() => (await Get<QuotaLedger>().GetUsageAsync(TenantId))!;

    public Task<IReadOnlyList<TenantResource>> ResourcesAsync() => Get<IResourceStore>().ListAsync(TenantId);

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await _provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }
}
