using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// Endpoint policy of the task saga: retry (busy storage, optimistic-concurrency conflicts between processes), in-memory
/// outbox (nothing published before the message's transaction commits), and a partitioner on the task id so that one task's
/// messages are applied one at a time.
/// </summary>
public sealed class TaskStateDefinition : SagaDefinition<TaskState>
{
    public TaskStateDefinition()
    {
        EndpointName = WireTopology.TaskSagaQueue;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TaskState> sagaConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseTransientRetry(context);
        endpointConfigurator.UseInMemoryOutbox(context);
        sagaConfigurator.UseFilter(new TaskTraceFilter());

        var partition = endpointConfigurator.CreatePartitioner(Math.Max(8, Environment.ProcessorCount * 4));
        sagaConfigurator.Message<SubmitTask>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<AgentTaskStarted>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<AgentTaskResult>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<AgentTaskProgress>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<TaskDeadlineExpired>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<TaskPickupExpired>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<TaskRetried>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
        sagaConfigurator.Message<CancelTask>(x => x.UsePartitioner(partition, m => m.Message.TaskId));
    }
}
