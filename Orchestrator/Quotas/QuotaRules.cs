using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Quotas;

public static class QuotaRules
{
    public static readonly string[] Names = ["cpu", "memoryMB", "storageMB", "vmCount"];

    /// <summary>Each limit that <paramref name="deltas"/> would exceed on top of usage and live holds (-1 = unlimited; decreases never exceed).</summary>
    public static IEnumerable<QuotaExcess> Exceeded(QuotaAmounts limits, QuotaAmounts used, QuotaAmounts held, QuotaAmounts deltas)
    {
        long[] l = [limits.Cpu, limits.MemoryMB, limits.StorageMB, limits.VmCount];
        long[] u = [used.Cpu, used.MemoryMB, used.StorageMB, used.VmCount];
        long[] h = [held.Cpu, held.MemoryMB, held.StorageMB, held.VmCount];
        long[] d = [deltas.Cpu, deltas.MemoryMB, deltas.StorageMB, deltas.VmCount];
        for (var i = 0; i < 4; i++)
        {
            if (l[i] >= 0 && d[i] > 0 && u[i] + h[i] + d[i] > l[i])
                yield return new QuotaExcess(Names[i], l[i], u[i], h[i], d[i]);
        }
    }
}
