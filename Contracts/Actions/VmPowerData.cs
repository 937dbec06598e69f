using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace OpenHvx.Contracts.Actions;

/// <summary>The data of <c>vm.power</c>.</summary>
[Description("A power operation on an existing VM (target.refId).")]
public sealed record VmPowerData
{
    public const string StatesText = "must be one of start, stop, turnoff, restart, reset, pause, resume, save";

    public static readonly IReadOnlyList<string> States = ["start", "stop", "turnoff", "restart", "reset", "pause", "resume", "save"];

    /// <summary>The states that stop or suspend what a tenant runs (an admin may apply them to a disabled tenant's VMs).</summary>
    public static readonly IReadOnlySet<string> Stopping = new HashSet<string>(["stop", "turnoff", "save", "pause"]);

    [Required(ErrorMessage = StatesText), AllowedValues("start", "stop", "turnoff", "restart", "reset", "pause", "resume", "save", ErrorMessage = StatesText)]
    [Description("The power operation.")]
    public string? State { get; init; }

    [Description("Stop or restart without asking the guest (a turn-off) when it does not shut down in time.")]
    public bool? Force { get; init; }
}
