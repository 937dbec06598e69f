using System.CommandLine;
using System.Text.Json.Nodes;

namespace OpenHvx.Cli.Commands.Quotas;

/// <summary><c>--cpu --memory-mb --storage-mb --vm-count</c>: a tenant's limits, -1 for none (tenant create, quota set).</summary>
public sealed class QuotaLimitOptions
{
    private readonly (Option<long?> Option, string Member)[] _limits =
    [
        (new("--cpu") { Description = "vCPU limit (-1: none)" }, "cpu"),
        (new("--memory-mb") { Description = "Memory limit in MB (-1: none)" }, "memoryMB"),
        (new("--storage-mb") { Description = "Storage limit in MB (-1: none)" }, "storageMB"),
        (new("--vm-count") { Description = "VM count limit (-1: none)" }, "vmCount"),
    ];

    public void AddTo(Command command)
    {
        foreach (var (option, _) in _limits)
            command.Add(option);
    }

    /// <summary>The limits given, as the API's <c>limits</c> object; null when none was.</summary>
    public JsonObject? Read(Invocation run)
    {
        var given = _limits.Where(l => run.Value(l.Option) is not null).ToList();
        if (given.Count == 0)
            return null;
        var limits = new JsonObject();
        foreach (var (option, member) in given)
            limits[member] = run.Value(option);
        return limits;
    }
}
