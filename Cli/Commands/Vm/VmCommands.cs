using System.CommandLine;
using System.Text.Json.Nodes;
using OpenHvx.Cli.Commands.Tasks;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Commands.Vm;

/// <summary><c>openhvx vm create|edit|power|delete</c>: one task each, the data's options derived from the action's record.</summary>
public static class VmCommands
{
    public static Command Create(CliApp app) => new("vm", "Create, change, power and delete VMs (each is a task)")
    {
        Action(app, "create", ActionNames.VmCreate, onVm: false),
        Action(app, "edit", ActionNames.VmEdit, onVm: true),
        Action(app, "power", ActionNames.VmPower, onVm: true),
        Action(app, "delete", ActionNames.VmDelete, onVm: true),
    };

    private static Command Action(CliApp app, string name, string action, bool onVm)
    {
        var data = DataOptions.For(action);
        var command = new Command(name, $"{action}: {data.Description}");
        var vmId = new Argument<string>("vmId") { Description = "The VM's id (its GUID, as vm create's result names it)" };
        if (onVm)
            command.Add(vmId);
        foreach (var option in data.Options)
            command.Add(option);
        var tenant = new Option<string>("--tenant", "-t") { Description = "The tenant (admins; a tenant user acts in its own)" };
        command.Add(tenant);
        var submission = new TaskSubmission();
        submission.AddTo(command);
        app.Handle(command, run =>
        {
            var body = data.Read(run.Parse);
            var problems = data.Validate(body);
            if (problems.Count > 0)
                throw new CliException(ExitCodes.Usage, $"{ErrorCodes.Validation}: the data is not valid, nothing was sent: {string.Join("; ", problems)}");
            var envelope = new JsonObject { ["action"] = action, ["data"] = body };
            if (run.Value(tenant) is { } tenantId)
                envelope["tenantId"] = tenantId;
            if (onVm)
                envelope["target"] = new JsonObject { ["kind"] = "vm", ["refId"] = run.Value(vmId) };
            return submission.SubmitAsync(run, "/tasks", envelope);
        });
        return command;
    }
}
