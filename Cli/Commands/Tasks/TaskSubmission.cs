using System.CommandLine;
using OpenHvx.Cli.Api;
using OpenHvx.Cli.Output;

namespace OpenHvx.Cli.Commands.Tasks;

/// <summary>What every command that starts a task shares: <c>--wait</c>/<c>--timeout</c>, and the 202 shown or followed to the task's end.</summary>
public sealed class TaskSubmission
{
    private readonly Option<bool> _wait = WaitOptions.Wait();
    private readonly Option<TimeSpan> _timeout = WaitOptions.Timeout();

    public void AddTo(Command command)
    {
        command.Add(_wait);
        command.Add(_timeout);
    }

    /// <summary>
    /// Sends the request with an Idempotency-Key of its own, so that a retry after a 429 or 503 cannot start a second task; then
    /// shows the 202, or with --wait follows the task to its end.
    /// </summary>
    public async Task<int> SubmitAsync(Invocation run, string path, System.Text.Json.Nodes.JsonNode? body)
    {
        var accepted = await run.Api.SendAsync(HttpMethod.Post, path, body, Guid.NewGuid().ToString("N"), run.CancellationToken);
        var taskId = Renderer.Field(accepted.Json, "taskId");
        if (!run.Value(_wait))
        {
            run.Renderer.Result(accepted, TaskTables.Accepted);
            return ExitCodes.Ok;
        }
        run.Renderer.Progress($"Task [bold]{Spectre.Console.Markup.Escape(taskId)}[/] accepted; following it.");
        return await new TaskWatcher(run).WatchAsync(taskId, run.Value(_timeout));
    }
}
