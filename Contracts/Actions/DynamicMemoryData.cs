using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.Contracts.Actions;

/// <summary>Hyper-V dynamic memory of a VM.</summary>
public sealed record DynamicMemoryData : IValidatableObject
{
    [Description("Turns dynamic memory on or off.")]
    public bool? Enabled { get; init; }

    [MemoryRange]
    [Description("Minimum memory.")]
    public MemorySize? Min { get; init; }

    [MemoryRange]
    [Description("Maximum memory.")]
    public MemorySize? Max { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Min is { } min && Max is { } max && min.MegaBytes > max.MegaBytes)
            yield return new ValidationResult("min must not exceed max");
    }
}
