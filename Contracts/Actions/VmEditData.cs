using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.Contracts.Actions;

/// <summary>The data of <c>vm.edit</c>: the changes to make, at least one.</summary>
[Description("Changes to an existing VM (target.refId): at least one member.")]
[AtLeastOneMember("names at least one change: cpu, ram, name, switch or dynamicMemory")]
public sealed record VmEditData
{
    [Range(1, 64, ErrorMessage = "must be an integer from 1 to 64")]
    [Description("New number of virtual processors.")]
    public int? Cpu { get; init; }

    [MemoryRange]
    [Description("New memory: \"4GB\", \"512MB\" or an integer of MB.")]
    public MemorySize? Ram { get; init; }

    [Matches(Identifiers.VmNameRule)]
    [Description("A new name, unique among the tenant's VMs.")]
    public string? Name { get; init; }

    [Printable(100, "must be a virtual switch name (1 to 100 printable characters)")]
    [Description("Connect the VM's adapter to this virtual switch.")]
    public string? Switch { get; init; }

    [Description("Dynamic memory settings.")]
    public DynamicMemoryData? DynamicMemory { get; init; }

}
