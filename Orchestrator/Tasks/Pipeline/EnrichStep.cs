using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Images;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>The action's defaults and look-ups (the image, cloud-init) and the quota deltas the task will charge. Takes nothing.</summary>
public sealed class EnrichStep(IImageStore images) : ITaskStep
{
    public string State => "Enriching";

    public async Task RunAsync(TaskStepContext context)
    {
        var enrichment = await context.Action.EnrichAsync(context.Task.Data, new ActionContext(images, context.Resource), context.CancellationToken);
        context.Task.EnrichedData = enrichment.Data;
        context.Task.QuotaDeltas = enrichment.QuotaDeltas;
    }

    public Task UndoAsync(TaskState task, CancellationToken cancellationToken) => Task.CompletedTask;
}
