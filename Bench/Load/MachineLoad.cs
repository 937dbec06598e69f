using System.Diagnostics;

namespace OpenHvx.Bench.Load;

/// <summary>
/// How much of the machine other work took during a measurement: the CPU of every process (from /proc/stat) less the
/// stack's, the bench's own and the broker's (beam.smp), as a share of all cores. A figure measured while something
/// else ran is a figure of a smaller machine; this says when.
/// </summary>
public static class MachineLoad
{
    public sealed record Sample(long BusyTicks, long TotalTicks, double BenchSeconds, double BrokerSeconds);

    public static Sample Take()
    {
        long busy = 0, total = 0;
        try
        {
            // cpu  user nice system idle iowait irq softirq steal ... (clock ticks, all cores)
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
            total = fields.Sum();
            busy = total - fields[3] - fields[4];
        }
        catch (Exception ex) when (ex is IOException or FormatException or InvalidOperationException)
        {
        }
        using var self = Process.GetCurrentProcess();
        return new Sample(busy, total, self.TotalProcessorTime.TotalSeconds, BrokerSeconds());
    }

    /// <summary>Percent of the machine (all cores) that processes outside the stack, the bench and the broker used between two samples.</summary>
    public static double OthersPercent(Sample before, Sample after, double stackSeconds)
    {
        var totalTicks = after.TotalTicks - before.TotalTicks;
        if (totalTicks <= 0)
            return 0;
        var busySeconds = (after.BusyTicks - before.BusyTicks) / 100.0;
        var others = busySeconds - stackSeconds - (after.BenchSeconds - before.BenchSeconds) - (after.BrokerSeconds - before.BrokerSeconds);
        return Math.Round(Math.Max(0, others) / (totalTicks / 100.0) * 100, 1);
    }

    private static double BrokerSeconds()
    {
        double seconds = 0;
        try
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var pid))
                    continue;
                try
                {
                    if (File.ReadAllText(Path.Combine(directory, "comm")).Trim() == "beam.smp")
                        seconds += Testing.ProcessUsage.Of(pid).CpuSeconds;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
        catch (IOException)
        {
        }
        return seconds;
    }
}
