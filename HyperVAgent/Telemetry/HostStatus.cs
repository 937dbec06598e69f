using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>What <c>Scripts/_host.status.ps1</c> reports, and the capacity the agent offers from it.</summary>
public sealed record HostStatus(string HostName, int LogicalProcessors, long MemoryMB, long StorageCapacityMB, long StorageFreeMB, long AssignedCpu, long AssignedMemoryMB, int VmCount)
{
    public static HostStatus Parse(JsonElement json)
    {
        var host = json.GetProperty("host");
        var storage = json.GetProperty("storage");
        var assigned = json.GetProperty("assigned");
        var vms = json.TryGetProperty("vms", out var list) && list.ValueKind == JsonValueKind.Array ? list.GetArrayLength() : 0;
        return new HostStatus(
            host.GetProperty("hostname").GetString() ?? "unknown",
            host.GetProperty("logicalProcessors").GetInt32(),
            host.GetProperty("memoryMB").GetInt64(),
            storage.GetProperty("capacityMB").GetInt64(),
            storage.GetProperty("freeMB").GetInt64(),
            assigned.GetProperty("cpu").GetInt64(),
            assigned.GetProperty("memoryMB").GetInt64(),
            vms);
    }

    public (AgentCapacity Capacity, AgentCapacity Free) Offer(AgentOptions options)
    {
        var cpu = (long)Math.Floor(LogicalProcessors * options.CpuOvercommit);
        var memory = Math.Max(0, MemoryMB - options.ReservedMemoryMB);
        var capacity = new AgentCapacity(cpu, memory, StorageCapacityMB);
        var free = new AgentCapacity(Math.Max(0, cpu - AssignedCpu), Math.Max(0, memory - AssignedMemoryMB), Math.Max(0, StorageFreeMB));
        return (capacity, free);
    }
}
