using System.Globalization;
using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// The capacity an agent offers, read from its canonical inventory (schemaVersion 1.0.0) for agents whose heartbeats carry none:
/// CPU from the host's logical processors (<c>host.cpu.threads</c>, else <c>cores</c>) times the overcommit, memory from
/// <c>host.memoryMb</c>, storage from the VM datastores; free is that less what the listed VMs are given.
/// </summary>
public sealed record InventoryCapacity(AgentCapacity Capacity, AgentCapacity Free, int VmCount, DateTimeOffset? CollectedAt)
{
    private const long MiB = 1024 * 1024;

    /// <summary>Null when the inventory does not say how many processors or how much memory the host has.</summary>
    public static InventoryCapacity? From(JsonElement inventory, OriginalAgentOptions options)
    {
        if (inventory.ValueKind != JsonValueKind.Object || !inventory.TryGetProperty("host", out var host) || host.ValueKind != JsonValueKind.Object)
            return null;
        var logical = host.TryGetProperty("cpu", out var cpu) && cpu.ValueKind == JsonValueKind.Object
            ? Number(cpu, "threads") ?? Number(cpu, "logicalProcessors") ?? Number(cpu, "cores")
            : null;
        var memory = Number(host, "memoryMb");
        if (logical is not > 0 || memory is not > 0)
            return null;

        long storage = 0, storageFree = 0;
        if (inventory.TryGetProperty("datastores", out var datastores) && datastores.ValueKind == JsonValueKind.Array)
        {
            var all = datastores.EnumerateArray().Where(d => d.ValueKind == JsonValueKind.Object).ToList();
            var forVms = all.Where(d => d.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "vm").ToList();
            foreach (var datastore in forVms.Count > 0 ? forVms : all)
            {
                storage = Add(storage, (Number(datastore, "sizeBytes") ?? 0) / MiB);
                storageFree = Add(storageFree, (Number(datastore, "freeBytes") ?? 0) / MiB);
            }
        }

        long assignedCpu = 0, assignedMemory = 0;
        var vmCount = 0;
        if (inventory.TryGetProperty("vms", out var vms) && vms.ValueKind == JsonValueKind.Array)
        {
            foreach (var vm in vms.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.Object))
            {
                vmCount++;
                if (vm.TryGetProperty("cpu", out var vmCpu) && vmCpu.ValueKind == JsonValueKind.Object)
                    assignedCpu = Add(assignedCpu, Number(vmCpu, "vcpus") ?? 0);
                assignedMemory = Add(assignedMemory, Number(vm, "memoryMb") ?? 0);
            }
        }

        var offeredCpu = (long)Math.Floor(Math.Clamp(logical.Value * options.CpuOvercommit, 0, long.MaxValue / 2));
        var offeredMemory = Math.Max(0, memory.Value - options.ReservedMemoryMB);
        return new InventoryCapacity(
            new AgentCapacity(offeredCpu, offeredMemory, storage),
            new AgentCapacity(Math.Max(0, offeredCpu - assignedCpu), Math.Max(0, offeredMemory - assignedMemory), Math.Clamp(storageFree, 0, storage)),
            vmCount,
            inventory.TryGetProperty("collectedAt", out var at) && at.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null);
    }

    /// <summary>Sums an agent's numbers without wrapping round.</summary>
    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static long? Number(JsonElement parent, string name)
        => parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)
            && number >= 0 && number < long.MaxValue / 2
            ? (long)number
            : null;
}
