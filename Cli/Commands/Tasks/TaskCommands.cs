using System.CommandLine;
using OpenHvx.Cli.Output;

namespace OpenHvx.Cli.Commands.Tasks;

/// <summary><c>openhvx task list|get|watch|cancel|retry</c>.</summary>
public static class TaskCommands
{
    public static Command Create(CliApp app) => new("task", "Inspect, follow, cancel and retry tasks")
    {
        List(app), Get(app), Watch(app), Cancel(app), Retry(app),
    };

    private static Argument<string> TaskId() => new("taskId") { Description = "The task's id" };

    private static Command List(CliApp app)
    {
        var filters = new (Option<string> Option, string Query)[]
        {
            (new("--status") { Description = "pending, sent, running, canceling, SUCCESS, FAILED or CANCELED" }, "status"),
            (new("--state") { Description = "The saga's state, like AwaitingResult" }, "state"),
            (new("--action") { Description = "vm.create, vm.edit, vm.power, vm.delete..." }, "action"),
            (new("--tenant", "-t") { Description = "One tenant's tasks (admins)" }, "tenantId"),
            (new("--agent") { Description = "One agent's tasks (admins)" }, "agentId"),
            (new("--limit") { Description = "At most this many, newest first" }, "limit"),
        };
        return ReadCommand.Create(app, "list", "Tasks, newest first", run =>
        {
            var query = string.Join('&', filters.Where(f => run.Value(f.Option) is not null)
                .Select(f => $"{f.Query}={Uri.EscapeDataString(run.Value(f.Option)!)}"));
            return "/tasks" + (query.Length > 0 ? "?" + query : "");
        }, TaskTables.List, symbols: [.. filters.Select(f => f.Option)]);
    }

    private static Command Get(CliApp app)
    {
        var id = TaskId();
        return ReadCommand.Create(app, "get", "One task: its data, states, result or error", run => TaskWatcher.TaskPath(run.Value(id)), TaskTables.Document, symbols: id);
    }

    private static Command Watch(CliApp app)
    {
        var id = TaskId();
        var timeout = WaitOptions.Timeout();
        var command = new Command("watch", "Follow a task's states until it ends (exit 1 when it ends FAILED or CANCELED)") { id, timeout };
        app.Handle(command, run => new TaskWatcher(run).WatchAsync(run.Value(id), run.Value(timeout)));
        return command;
    }

    private static Command Cancel(CliApp app)
    {
        var id = TaskId();
        var command = new Command("cancel", "Cancel a task that has not ended (CANCELED, or canceling while its host stops it)") { id };
        app.Handle(command, async run =>
        {
            var task = await run.Api.SendAsync(HttpMethod.Post, TaskWatcher.TaskPath(run.Value(id)) + "/cancel", cancellationToken: run.CancellationToken);
            run.Renderer.Result(task, TaskTables.Document);
            if (Renderer.Field(task.Json, "status") is var status && status != Contracts.TaskStatuses.Canceled)
                run.Renderer.Progress($"The task is [bold]{Spectre.Console.Markup.Escape(status)}[/]" + (status == Contracts.TaskStatuses.Canceling
                    ? ": its host is stopping it; follow it with `openhvx task watch`." : ": it ended before the cancel reached it."));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Retry(CliApp app)
    {
        var id = TaskId();
        var command = new Command("retry", "Submit a FAILED or CANCELED task again (a new task, linked to it)") { id };
        var submission = new TaskSubmission();
        submission.AddTo(command);
        app.Handle(command, run => submission.SubmitAsync(run, TaskWatcher.TaskPath(run.Value(id)) + "/retry", null));
        return command;
    }
}
