using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Sends a result the journal holds and marks it confirmed once the transport has it. A failed send is logged, not
/// thrown: the result stays unconfirmed in the journal and <see cref="ResultRetryService"/> sends it again.
/// </summary>
public sealed class ResultSender(IAgentWire wire, TaskJournal journal, Telemetry.AgentMetrics metrics, ILogger<ResultSender> logger)
{
    /// <summary>Stores the result (unconfirmed), then sends it.</summary>
    public Task<bool> StoreAndSendAsync(AgentTaskResult result, CancellationToken cancellationToken)
    {
        journal.Complete(result.TaskId, JsonSerializer.Serialize(result, JsonSerializerOptions.Web), result.FinishedAt);
        metrics.Finished(result.TaskId, result.Ok);
        return SendAsync(result, cancellationToken);
    }

    /// <summary>Sends a result as the journal stored it.</summary>
    public Task<bool> SendStoredAsync(string stored, CancellationToken cancellationToken)
        => SendAsync(JsonSerializer.Deserialize<AgentTaskResult>(stored, JsonSerializerOptions.Web)!, cancellationToken);

    private async Task<bool> SendAsync(AgentTaskResult result, CancellationToken cancellationToken)
    {
        try
        {
            if (!await wire.ResultAsync(result, cancellationToken))
            {
                logger.LogInformation("The result of task {TaskId} was published while the agent stops; it is published again at the next start", result.TaskId);
                return true;
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The result of task {TaskId} could not be published; the journal keeps it unconfirmed and it is published again later",
                result.TaskId);
            return false;
        }
        journal.Confirm(result.TaskId);
        return true;
    }
}
