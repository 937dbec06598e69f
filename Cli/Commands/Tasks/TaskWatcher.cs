using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using OpenHvx.Cli.Api;
using OpenHvx.Cli.Output;
using OpenHvx.Contracts;
using Spectre.Console;

namespace OpenHvx.Cli.Commands.Tasks;

/// <summary>
/// Follows a task to its end: its event stream (<c>GET .../tasks/{id}/events</c>, each transition a line on stderr), falling back
/// to polling the task when the stream cannot be had or breaks; then shows the task and says how it ended in the exit code.
/// </summary>
public sealed class TaskWatcher(Invocation run)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private string? _shown;

    public async Task<int> WatchAsync(string taskId, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(run.CancellationToken);
        deadline.CancelAfter(timeout);
        ApiResponse task;
        try
        {
            if (!await FollowEventsAsync(taskId, deadline.Token))
            {
                run.Renderer.Progress("[grey]The task's event stream is not available: polling the task.[/]");
                await PollAsync(taskId, deadline.Token);
            }
            task = await run.Api.GetAsync(TaskPath(taskId), deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !run.CancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Timeout, $"Task {taskId} had not ended after {timeout}; follow it with `openhvx task watch {taskId}`.");
        }
        return Finish(task);
    }

    public static string TaskPath(string taskId) => "/tasks/" + Uri.EscapeDataString(taskId);

    /// <returns>true when the stream showed the task's end (or it had already ended); false to poll instead</returns>
    private async Task<bool> FollowEventsAsync(string taskId, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await run.Api.OpenStreamAsync(TaskPath(taskId) + "/events", cancellationToken);
            if (response.StatusCode == HttpStatusCode.NoContent)
                return true;
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                var refusal = ApiErrors.From((int)response.StatusCode, body);
                // A task that is not there (or not the caller's) will not be there for polling either.
                if (refusal.ExitCode is ExitCodes.NotFound or ExitCodes.Auth)
                    throw refusal;
                return false;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
            {
                using var document = JsonDocument.Parse(item.Data);
                var e = document.RootElement;
                var status = Renderer.Field(e, "status");
                Show(Renderer.Field(e, "at"), Renderer.Field(e, "state"), status, Renderer.Field(e, "errorCode"));
                if (TaskStatuses.IsFinal(status))
                    return true;
            }
            return false;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task PollAsync(string taskId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var task = (await run.Api.GetAsync(TaskPath(taskId), cancellationToken)).Json;
            var status = Renderer.Field(task, "status");
            Show(Renderer.Field(task, "updatedAt"), Renderer.Field(task, "state"), status, Renderer.Field(task, "error.code"));
            if (TaskStatuses.IsFinal(status))
                return;
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private void Show(string at, string state, string status, string errorCode)
    {
        var line = $"{state} {status}";
        if (line == _shown)
            return;
        _shown = line;
        var time = DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var t) ? t.ToString("HH:mm:ss") : at;
        var color = status switch { TaskStatuses.Succeeded => "green", TaskStatuses.Failed or TaskStatuses.Canceled => "red", _ => "grey" };
        run.Renderer.Progress($"{time}  [bold]{Markup.Escape(state)}[/]  [{color}]{Markup.Escape(status)}[/]{(errorCode.Length > 0 ? "  " + Markup.Escape(errorCode) : "")}");
    }

    /// <summary>Shows the task; a FAILED or CANCELED one adds its error on stderr and exit code 1.</summary>
    public int Finish(ApiResponse task)
    {
        run.Renderer.Result(task, TaskTables.Document);
        var status = Renderer.Field(task.Json, "status");
        if (status == TaskStatuses.Succeeded)
            return ExitCodes.Ok;
        var code = Renderer.Field(task.Json, "error.code");
        var hint = ApiErrors.TaskHint(code);
        run.App.Io.Error.WriteLine($"error: task {Renderer.Field(task.Json, "taskId")} ended {status}: {code}: {Renderer.Field(task.Json, "error.message")}{(hint is null ? "" : " - " + hint)}");
        return ExitCodes.TaskFailed;
    }
}
