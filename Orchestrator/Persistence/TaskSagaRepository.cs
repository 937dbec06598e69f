using System.Text.Json;
using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Saga;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// MassTransit saga repository for <see cref="TaskState"/> over the <see cref="ITaskStore"/> port
/// (SQLite or MongoDB), with optimistic concurrency on the task's version. Each message is handled in one store
/// transaction: the load, what the saga's activities write (holds, placements, locks, the agent's outbox) and the save.
/// </summary>
public sealed class TaskSagaRepositoryContextFactory(
    ITaskStore store,
    IStoreTransactions transactions,
    ISagaConsumeContextFactory<ITaskStore, TaskState> factory) :
    ISagaRepositoryContextFactory<TaskState>,
    IQuerySagaRepositoryContextFactory<TaskState>,
    ILoadSagaRepositoryContextFactory<TaskState>
{
    public void Probe(ProbeContext context) => context.Add("persistence", "task-store");

    public Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TaskState, T>> next)
        where T : class
        => transactions.InTransactionAsync(async () =>
        {
            var repositoryContext = new TaskSagaRepositoryContext<T>(store, context, factory);
            await next.Send(repositoryContext).ConfigureAwait(false);
            return true;
        }, context.CancellationToken);

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

