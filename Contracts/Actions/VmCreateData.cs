using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.Contracts.Actions;

/// <summary>The data of <c>vm.create</c>; absent members take the defaults of design/api.md.</summary>
[Description("A new VM. Absent members take defaults: 2 vCPU, 2GB, the catalog's default image, generation 2, the image's disk size.")]
public sealed record VmCreateData
{
    public const int DefaultCpu = 2;
    public const long DefaultMemoryMB = 2048;
    public const int MaxStorageGB = 64 * 1024;

    [Required(ErrorMessage = "is required"), Matches(Identifiers.VmNameRule)]
    [Description("The VM's name, unique among the tenant's VMs.")]
    public string? Name { get; init; }

    [Range(1, 64, ErrorMessage = "must be an integer from 1 to 64")]
    [Description("Virtual processors (default 2).")]
    public int? Cpu { get; init; }

    [MemoryRange]
    [Description("Memory: \"2GB\", \"512MB\", \"1TB\" or an integer of MB (default 2GB).")]
    public MemorySize? Ram { get; init; }

    [Matches(Identifiers.CatalogNameRule, "must be a catalog image id or <name>.latest")]
    [Description("A catalog image id (<name>.<version>) or <name>.latest (default: the catalog's default image).")]
    public string? ImageId { get; init; }

    [AllowedValues(1, 2, ErrorMessage = "must be 1 or 2")]
    [Description("Hyper-V generation (default 2).")]
    public int? Generation { get; init; }

    [Range(1, MaxStorageGB, ErrorMessage = "must be an integer from 1 to 65536")]
    [Description("System disk size in GB (default: the image's minimum).")]
    public int? StorageGB { get; init; }

    [Printable(100, "must be a virtual switch name (1 to 100 printable characters)")]
    [Description("The virtual switch (default: the host's).")]
    public string? Switch { get; init; }

    [Description("What cloud-init configures at first boot.")]
    public CloudInitData? CloudInit { get; init; }
}
