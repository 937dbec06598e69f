using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Runs <c>Scripts/_cleanup.&lt;action&gt;.ps1</c> when the action has one, so that what an interrupted or canceled task had half built
/// (a VM, its folder) does not stay on the host untracked.
/// </summary>
public sealed class TaskCleanup(PowerShellRunner runner, ActionScripts scripts, AgentShutdown shutdown, ILogger<TaskCleanup> logger)
{
    /// <summary>The cleanup's output, or null when the action has none (or is not one of this agent's).</summary>
    /// <param name="why">what happened to the task, for the log (<c>interrupted</c>, <c>canceled</c>)</param>
    public async Task<JsonElement?> RunAsync(AgentTask task, string why)
    {
        var script = runner.ScriptPath("_cleanup." + task.Action);
        if (!scripts.TryGetScript(task.Action, out _) || !File.Exists(script))
            return null;
        var outcome = await runner.RunAsync(script, scripts.BuildParameters(script, task), TimeSpan.FromMinutes(5), shutdown.GraceOver);
        if (!outcome.Ok)
            logger.LogError("Cleanup after {Why} task {TaskId} failed: {Code} {Message}", why, task.TaskId, outcome.Error?.Code, outcome.Error?.Message);
        return outcome.Output;
    }
}
