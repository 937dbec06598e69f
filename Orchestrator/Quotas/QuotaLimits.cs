using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Quotas;

/// <summary>Reads a limits object (<c>cpu</c>, <c>memoryMB</c>, <c>storageMB</c>, <c>vmCount</c>; -1 = unlimited) over a base.</summary>
public static class QuotaLimits
{
    private static readonly HashSet<string> Fields = ["cpu", "memoryMB", "storageMB", "vmCount"];

    public static QuotaAmounts Read(JsonElement limits, QuotaAmounts current, FieldErrors errors, string prefix = "")
    {
        if (limits.ValueKind != JsonValueKind.Object)
        {
            errors.Add(prefix.TrimEnd('.') is { Length: > 0 } p ? p : "body", "must be an object of limits");
            return current;
        }
        errors.RejectUnknown(limits, Fields, prefix);
        long Value(string name, long fallback)
        {
            if (!limits.TryGetProperty(name, out var value))
                return fallback;
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= -1)
                return number;
            errors.Add(prefix + name, "must be an integer, -1 for unlimited");
            return fallback;
        }
        return new QuotaAmounts(Value("cpu", current.Cpu), Value("memoryMB", current.MemoryMB), Value("storageMB", current.StorageMB), Value("vmCount", current.VmCount));
    }
}
