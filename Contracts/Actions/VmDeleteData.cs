using System.ComponentModel;

namespace OpenHvx.Contracts.Actions;

/// <summary>The data of <c>vm.delete</c>.</summary>
[Description("Deletes an existing VM (target.refId).")]
public sealed record VmDeleteData
{
    [Description("Turn the VM off if it does not shut down in time.")]
    public bool? ForceStop { get; init; }

    [Description("Delete its virtual disks too (otherwise they are kept aside).")]
    public bool? DeleteDisks { get; init; }
}
