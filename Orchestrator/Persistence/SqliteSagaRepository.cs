using System.Text.Json;
using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Saga;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// MassTransit saga repository for <see cref="TaskState"/> over the <see cref="ITaskStore"/> port
/// (SQLite or MongoDB), with optimistic concurrency on the task's version.
/// </summary>
public sealed class TaskSagaRepositoryContextFactory(
    ITaskStore store,
    ISagaConsumeContextFactory<ITaskStore, TaskState> factory) :
    ISagaRepositoryContextFactory<TaskState>,
    IQuerySagaRepositoryContextFactory<TaskState>,
    ILoadSagaRepositoryContextFactory<TaskState>
{
    public void Probe(ProbeContext context) => context.Add("persistence", "sqlite");

    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TaskState, T>> next)
        where T : class
    {
        var repositoryContext = new TaskSagaRepositoryContext<T>(store, context, factory);
        await next.Send(repositoryContext).ConfigureAwait(false);
    }

    public async Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TaskState> query, IPipe<SagaRepositoryQueryContext<TaskState, T>> next)
        where T : class
    {
        // Every event of the task saga correlates by id; a query scans (rare, tests and tooling only).
        var predicate = query.FilterExpression.Compile();
        var matches = (await store.LoadAllAsync(context.CancellationToken)).Where(predicate).ToList();
        var repositoryContext = new TaskSagaRepositoryContext<T>(store, context, factory);
        await next.Send(new LoadedSagaRepositoryQueryContext<TaskState, T>(repositoryContext, matches)).ConfigureAwait(false);
    }

    public Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TaskState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
        => asyncMethod(new TaskLoadContext(store, cancellationToken));

    public Task<T> Execute<T>(Func<QuerySagaRepositoryContext<TaskState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
        => asyncMethod(new TaskLoadContext(store, cancellationToken));
}

internal sealed class TaskSagaRepositoryContext<TMessage> :
    ConsumeContextScope<TMessage>,
    SagaRepositoryContext<TaskState, TMessage>
    where TMessage : class
{
    private readonly ITaskStore store;
    private readonly ConsumeContext<TMessage> consumeContext;
    private readonly ISagaConsumeContextFactory<ITaskStore, TaskState> factory;

    public TaskSagaRepositoryContext(
        ITaskStore store,
        ConsumeContext<TMessage> consumeContext,
        ISagaConsumeContextFactory<ITaskStore, TaskState> factory)
        : base(consumeContext)
    {
        this.store = store;
        this.consumeContext = consumeContext;
        this.factory = factory;
    }

    public Task<SagaConsumeContext<TaskState, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> context, TaskState instance, SagaConsumeContextMode mode)
        where T : class
        => factory.CreateSagaConsumeContext(store, context, instance, mode);

    public Task<SagaConsumeContext<TaskState, TMessage>> Add(TaskState instance)
        => factory.CreateSagaConsumeContext(store, consumeContext, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<TaskState, TMessage>> Insert(TaskState instance)
    {
        if (!await store.TryInsertAsync(instance, CancellationToken).ConfigureAwait(false))
            return default!;
        return await factory.CreateSagaConsumeContext(store, consumeContext, instance, SagaConsumeContextMode.Insert).ConfigureAwait(false);
    }

    public async Task<SagaConsumeContext<TaskState, TMessage>> Load(Guid correlationId)
    {
        var instance = await store.LoadAsync(correlationId, CancellationToken).ConfigureAwait(false);
        if (instance is null)
            return default!;
        return await factory.CreateSagaConsumeContext(store, consumeContext, instance, SagaConsumeContextMode.Load).ConfigureAwait(false);
    }

    public async Task Save(SagaConsumeContext<TaskState> context)
    {
        if (!await store.TryInsertAsync(context.Saga, CancellationToken).ConfigureAwait(false))
            throw new SagaVersionConflictException(context.Saga.CorrelationId, "the task already exists");
    }

    public Task Update(SagaConsumeContext<TaskState> context) => store.UpdateAsync(context.Saga, CancellationToken);

    public Task Delete(SagaConsumeContext<TaskState> context) => store.DeleteAsync(context.Saga, CancellationToken);

    public Task Discard(SagaConsumeContext<TaskState> context) => Task.CompletedTask;

    public Task Undo(SagaConsumeContext<TaskState> context) => Task.CompletedTask;
}

internal sealed class TaskLoadContext(ITaskStore store, CancellationToken cancellationToken) :
    BasePipeContext(cancellationToken),
    LoadSagaRepositoryContext<TaskState>,
    QuerySagaRepositoryContext<TaskState>
{
    public async Task<TaskState> Load(Guid correlationId) => (await store.LoadAsync(correlationId, CancellationToken))!;

    public async Task<SagaRepositoryQueryContext<TaskState>> Query(ISagaQuery<TaskState> query, CancellationToken cancellationToken)
    {
        var predicate = query.FilterExpression.Compile();
        var ids = (await store.LoadAllAsync(cancellationToken)).Where(predicate).Select(x => x.CorrelationId).ToList();
        return new DefaultSagaRepositoryQueryContext<TaskState>(this, ids);
    }
}

/// <summary>Thrown when an update finds another version than the one it loaded; the saga endpoint retries.</summary>
public sealed class SagaVersionConflictException(Guid correlationId, string message)
    : ConcurrencyException($"Task {correlationId}: {message}", typeof(TaskState), correlationId);

/// <summary>The rows behind the task saga.</summary>
public sealed class SqliteTaskSagaStore(SqliteDatabase database) : ITaskStore
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string Columns = "id, version, current_state, tenant_id, action, status, agent_id, created_at, updated_at, deadline_at, document";

    public async Task<bool> TryInsertAsync(TaskState instance, CancellationToken cancellationToken)
    {
        if (instance.Version == 0)
            instance.Version = 1;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"INSERT INTO tasks ({Columns}) VALUES ($id, $version, $state, $tenant, $action, $status, $agent, $created, $updated, $deadline, $document) ON CONFLICT(id) DO NOTHING");
        Bind(command, instance);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task UpdateAsync(TaskState instance, CancellationToken cancellationToken)
    {
        // An event that changed nothing (ignored duplicates, stragglers) writes nothing.
        var document = JsonSerializer.Serialize(instance, Json);
        if (_loaded.TryGetValue(instance, out var original) && original.Document == document)
            return;

        var expected = instance.Version;
        instance.Version = expected + 1;
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE tasks SET version = $version, current_state = $state, tenant_id = $tenant, action = $action, status = $status,
                agent_id = $agent, created_at = $created, updated_at = $updated, deadline_at = $deadline, document = $document
            WHERE id = $id AND version = $expected
            """);
        Bind(command, instance, document);
        command.With("$expected", expected);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            instance.Version = expected;
            throw new SagaVersionConflictException(instance.CorrelationId, $"version {expected} was changed by another update");
        }
    }

    public async Task DeleteAsync(TaskState instance, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("DELETE FROM tasks WHERE id = $id AND version = $version")
            .With("$id", instance.CorrelationId.ToString()).With("$version", instance.Version);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            throw new SagaVersionConflictException(instance.CorrelationId, "delete found another version");
    }

    public async Task<TaskState?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT version, document FROM tasks WHERE id = $id").With("$id", id.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader.GetInt32(0), reader.GetString(1)) : null;
    }

    public async Task<IReadOnlyList<TaskState>> LoadAllAsync(CancellationToken cancellationToken)
        => await QueryAsync(new TaskQuery { Limit = int.MaxValue }, cancellationToken);

    /// <summary>Newest first, filtered on the indexed columns.</summary>
    public async Task<IReadOnlyList<TaskState>> QueryAsync(TaskQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        if (query.TenantId is not null) { where.Add("tenant_id = $tenant"); command.With("$tenant", query.TenantId); }
        if (query.Status is not null) { where.Add("status = $status"); command.With("$status", query.Status); }
        if (query.State is not null) { where.Add("current_state = $state"); command.With("$state", query.State); }
        if (query.Action is not null) { where.Add("action = $action"); command.With("$action", query.Action); }
        if (query.AgentId is not null) { where.Add("agent_id = $agent"); command.With("$agent", query.AgentId); }
        if (query.CreatedBefore is { } before) { where.Add("created_at <= $before"); command.With("$before", before.ToUnixMs()); }
        if (query.InFlight) where.Add("deadline_at IS NOT NULL");
        command.CommandText = "SELECT version, document FROM tasks"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")
            + " ORDER BY created_at DESC, id LIMIT $limit OFFSET $offset";
        command.With("$limit", query.Limit).With("$offset", query.Offset);
        var result = new List<TaskState>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add(Read(reader.GetInt32(0), reader.GetString(1)));
        return result;
    }

    /// <summary>Tasks in a non-final state whose deadline has passed.</summary>
    public async Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset DeadlineAt)>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT id, current_state, deadline_at FROM tasks WHERE deadline_at IS NOT NULL AND deadline_at <= $now ORDER BY deadline_at LIMIT $limit")
            .With("$now", now.ToUnixMs()).With("$limit", limit);
        var result = new List<(Guid, string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1), SqliteExtensions.FromUnixMs(reader.GetInt64(2))));
        return result;
    }

    /// <summary>Tasks in a pre-dispatch state that have not changed since <paramref name="before"/>.</summary>
    public async Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset UpdatedAt)>> FindStalledAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT id, current_state, updated_at FROM tasks WHERE deadline_at IS NOT NULL AND updated_at <= $before " +
            "AND current_state IN ('Validating', 'Electing', 'Enriching', 'HoldingQuota', 'Dispatching') ORDER BY updated_at LIMIT $limit")
            .With("$before", before.ToUnixMs()).With("$limit", limit);
        var result = new List<(Guid, string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1), SqliteExtensions.FromUnixMs(reader.GetInt64(2))));
        return result;
    }

    private TaskState Read(int version, string document)
    {
        var state = JsonSerializer.Deserialize<TaskState>(document, Json)!;
        state.Version = version;
        _loaded.AddOrUpdate(state, new LoadedDocument(JsonSerializer.Serialize(state, Json)));
        return state;
    }

    private sealed record LoadedDocument(string Document);

    // The document each loaded instance had, to tell whether an event changed it.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TaskState, LoadedDocument> _loaded = new();

    private static void Bind(SqliteCommand command, TaskState instance, string? document = null)
    {
        command.With("$id", instance.CorrelationId.ToString())
            .With("$version", instance.Version)
            .With("$state", instance.CurrentState)
            .With("$tenant", instance.TenantId)
            .With("$action", instance.Action)
            .With("$status", instance.Status)
            .With("$agent", instance.AgentId)
            .With("$created", instance.CreatedAt.ToUnixMs())
            .With("$updated", instance.UpdatedAt.ToUnixMs())
            .With("$deadline", instance.DeadlineAt?.ToUnixMs())
            .With("$document", document ?? JsonSerializer.Serialize(instance, Json));
    }
}

public sealed record TaskQuery
{
    public string? TenantId { get; init; }
    public string? Status { get; init; }
    public string? State { get; init; }
    public string? Action { get; init; }
    public string? AgentId { get; init; }
    public DateTimeOffset? CreatedBefore { get; init; }
    /// <summary>Only tasks in a non-final state (every non-final state has a deadline).</summary>
    public bool InFlight { get; init; }
    public int Limit { get; init; } = 50;
    public int Offset { get; init; }
}
