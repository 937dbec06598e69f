namespace OpenHvx.Contracts.Actions;

/// <summary>
/// vm.power states of the original OpenHVX agent (its <c>vm.power.ps1</c>: on|start|poweron, off|poweroff, shutdown, restart|reboot,
/// pause|suspend, resume, save) against ours (<see cref="VmPowerData.States"/>). Its <c>restart</c> is <c>Restart-VM -Force</c>, a
/// hard reset; it has no graceful restart, so ours becomes that.
/// </summary>
public static class OriginalPowerStates
{
    /// <summary>Their names that differ from ours, as ours.</summary>
    public static readonly IReadOnlyDictionary<string, string> ToOurs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["on"] = "start",
        ["poweron"] = "start",
        ["off"] = "turnoff",
        ["poweroff"] = "turnoff",
        ["shutdown"] = "stop",
        ["reboot"] = "restart",
        ["suspend"] = "pause",
    };

    /// <summary>Each of ours as theirs.</summary>
    public static readonly IReadOnlyDictionary<string, string> ToTheirs = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["start"] = "start",
        ["stop"] = "shutdown",
        ["turnoff"] = "off",
        ["restart"] = "restart",
        ["reset"] = "restart",
        ["pause"] = "pause",
        ["resume"] = "resume",
        ["save"] = "save",
    };
}
