using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Orchestrator.Tasks;

// The consumers behind the saga's pre-dispatch states. Each answers with an event the saga
// correlates by task id; a refusal is a TaskStepFailed with the API's error code.

internal static class StepFailures
{
    public static Task Refuse(this ConsumeContext context, Guid taskId, string step, TaskRejectedException rejection, ElectionDecision? decision = null)
        => context.Publish(new TaskStepFailed(taskId, step, rejection.Code, rejection.Message,
            rejection.Details is null ? null : JsonSerializer.SerializeToElement(rejection.Details, JsonSerializerOptions.Web), decision));
}

public sealed class ValidateTaskConsumer(ITenantStore tenants, IResourceStore resources, TaskActionCatalog actions) : IConsumer<ValidateTask>
{
    public async Task Consume(ConsumeContext<ValidateTask> context)
    {
        var message = context.Message;
        try
        {
            var tenant = await tenants.GetAsync(message.TenantId, context.CancellationToken)
                ?? throw new TaskRejectedException(ErrorCodes.NotFound, $"Tenant '{message.TenantId}' does not exist.");
            if (tenant.Status != Tenant.Active)
                throw new TaskRejectedException(ErrorCodes.TenantDisabled, $"Tenant '{message.TenantId}' is disabled.");
            var action = actions.Get(message.Action);
            TenantResource? resource = null;
            if (action.TargetsVm)
            {
                resource = await resources.FindTargetAsync(message.TenantId, message.Target, context.CancellationToken)
                    ?? throw new TaskRejectedException(ErrorCodes.NotFound, $"VM '{message.Target?.RefId}' was not found.");
                if (!await resources.TryLockAsync(resource.ResourceId, message.TaskId, context.CancellationToken))
                    throw new TaskRejectedException(ErrorCodes.ResourceLocked, $"Another task is still changing VM '{resource.ResourceId}'.");
            }
            // A VM keeps its own name: renaming it to that name, or to another case of it, reserves nothing new.
            if (action.ClaimedName(message.Data) is { } name && !string.Equals(name, resource?.Name, StringComparison.OrdinalIgnoreCase) &&
                !await resources.TryReserveNameAsync(message.TenantId, name, message.TaskId, context.CancellationToken))
                throw new TaskRejectedException(ErrorCodes.NameTaken, $"The tenant already has a VM (or a vm.create in flight) named '{name}'.");
            await context.Publish(new TaskValidated(message.TaskId));
        }
        catch (TaskRejectedException rejection)
        {
            await context.Refuse(message.TaskId, "Validating", rejection);
        }
    }
}

public sealed class ElectAgentConsumer(IAgentStore agents, IImageStore images, IResourceStore resources, TaskActionCatalog actions, TimeProvider clock,
    IOptions<OrchestratorOptions> options) : IConsumer<ElectAgent>
{
    public async Task Consume(ConsumeContext<ElectAgent> context)
    {
        var message = context.Message;
        var action = actions.Get(message.Action);
        // An action on an existing VM goes to the agent hosting it, not to an election among all.
        var resource = action.TargetsVm ? await resources.FindTargetAsync(message.TenantId, message.Target, context.CancellationToken) : null;
        var requirement = await action.GetRequirementAsync(message.Data, new ActionContext(images, resource), context.CancellationToken);
        var pinned = resource?.AgentId ?? message.Target?.AgentId;
        var decision = await agents.ElectAsync(message.TaskId,
            registry => AgentElection.Elect(registry, action.Capability, requirement, pinned, clock.GetUtcNow(), options.Value.Election),
            context.CancellationToken);
        if (decision.AgentId is null)
        {
            var reason = decision.Candidates.Count == 0 ? "no agent is registered" : $"{decision.Candidates.Count} agent(s) considered, none eligible";
            await context.Refuse(message.TaskId, "Electing",
                new TaskRejectedException(ErrorCodes.NoEligibleAgent, $"No eligible agent for {message.Action}: {reason}.",
                    new { requirement }), decision);
            return;
        }
        await context.Publish(new AgentElected(message.TaskId, decision.AgentId, decision));
    }
}

public sealed class EnrichTaskConsumer(IImageStore images, IResourceStore resources, TaskActionCatalog actions) : IConsumer<EnrichTask>
{
    public async Task Consume(ConsumeContext<EnrichTask> context)
    {
        var message = context.Message;
        try
        {
            var action = actions.Get(message.Action);
            var resource = action.TargetsVm ? await resources.FindTargetAsync(message.TenantId, message.Target, context.CancellationToken) : null;
            var enrichment = await action.EnrichAsync(message.Data, new ActionContext(images, resource), context.CancellationToken);
            await context.Publish(new TaskEnriched(message.TaskId, enrichment.Data, enrichment.QuotaDeltas));
        }
        catch (TaskRejectedException rejection)
        {
            await context.Refuse(message.TaskId, "Enriching", rejection);
        }
    }
}

public sealed class HoldQuotaConsumer(IQuotaStore quotas, IOptions<OrchestratorOptions> options) : IConsumer<HoldQuota>
{
    public async Task Consume(ConsumeContext<HoldQuota> context)
    {
        var message = context.Message;
        // Only increases are reserved; decreases (an edit that shrinks, a delete) are released when the task succeeds.
        var increases = new QuotaAmounts(Math.Max(0, message.Deltas.Cpu), Math.Max(0, message.Deltas.MemoryMB),
            Math.Max(0, message.Deltas.StorageMB), Math.Max(0, message.Deltas.VmCount));
        var outcome = await quotas.TryHoldAsync(message.TaskId, message.TenantId, message.AgentId, increases,
            options.Value.HoldTtlFor(message.Action), context.CancellationToken);
        if (outcome.Held)
        {
            await context.Publish(new QuotaHeld(message.TaskId, outcome.ExpiresAt));
            return;
        }
        var summary = string.Join(", ", outcome.Exceeded.Select(e => $"{e.Resource}: {e.Used} used + {e.Held} held + {e.Requested} > {e.Limit}"));
        await context.Refuse(message.TaskId, "HoldingQuota",
            new TaskRejectedException(ErrorCodes.QuotaExceeded, $"Quota exceeded ({summary}).", new { exceeded = outcome.Exceeded }));
    }
}

public sealed class DispatchTaskConsumer(IAgentTaskSender sender, TimeProvider clock) : IConsumer<DispatchTask>
{
    public async Task Consume(ConsumeContext<DispatchTask> context)
    {
        var message = context.Message;
        var task = new AgentTask(message.TaskId, message.TenantId, message.AgentId, message.Action, message.Data, message.TaskId.ToString(), message.Target);
        await sender.SendAsync(context, task, context.CancellationToken);
        await context.Publish(new TaskDispatched(message.TaskId, message.AgentId, clock.GetUtcNow()));
    }
}

/// <summary>Delivers a task to its agent's queue (in memory: <c>agent.&lt;agentId&gt;.tasks</c>).</summary>
public interface IAgentTaskSender
{
    Task SendAsync(ConsumeContext context, AgentTask task, CancellationToken cancellationToken);
}

public sealed class QueueAgentTaskSender : IAgentTaskSender
{
    public static Uri QueueFor(string agentId) => new($"queue:agent.{agentId}.tasks");

    public async Task SendAsync(ConsumeContext context, AgentTask task, CancellationToken cancellationToken)
    {
        var endpoint = await context.GetSendEndpoint(QueueFor(task.AgentId));
        await endpoint.Send(task, send => send.CorrelationId = task.TaskId, cancellationToken);
    }
}

public sealed class AgentHeartbeatConsumer(IAgentStore agents, TimeProvider clock) : IConsumer<AgentHeartbeat>
{
    public Task Consume(ConsumeContext<AgentHeartbeat> context)
        => agents.RecordHeartbeatAsync(context.Message, clock.GetUtcNow(), context.CancellationToken);
}

public sealed class AgentInventoryConsumer(IAgentStore agents, TimeProvider clock) : IConsumer<AgentInventory>
{
    public Task Consume(ConsumeContext<AgentInventory> context)
        => agents.RecordInventoryAsync(context.Message.AgentId, context.Message.Inventory, clock.GetUtcNow(), context.CancellationToken);
}
