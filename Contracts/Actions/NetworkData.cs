using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.Contracts.Actions;

/// <summary>The first network interface of a new VM: DHCP, or a static address with its gateway.</summary>
public sealed record NetworkData : IValidatableObject
{
    public const string Dhcp = "dhcp";
    public const string Static = "static";

    [Required(ErrorMessage = "must be dhcp or static"), AllowedValues(Dhcp, Static, ErrorMessage = "must be dhcp or static")]
    [Description("dhcp or static.")]
    public string? Mode { get; init; }

    [IpAddress(withPrefix: true)]
    [Description("Static mode: the address with its prefix length.")]
    public string? Address { get; init; }

    [IpAddress]
    [Description("Static mode: the default gateway.")]
    public string? Gateway { get; init; }

    [IpAddresses]
    [Description("DNS servers.")]
    public IReadOnlyList<string>? Nameservers { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Mode == Static)
        {
            if (Address is null)
                yield return new ValidationResult("must be an address with prefix, like 10.0.0.5/24", [nameof(Address)]);
            if (Gateway is null)
                yield return new ValidationResult("must be an IP address", [nameof(Gateway)]);
        }
        else if (Address is not null || Gateway is not null)
        {
            yield return new ValidationResult("address and gateway apply to static mode only");
        }
    }
}
