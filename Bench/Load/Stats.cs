namespace OpenHvx.Bench.Load;

/// <summary>Percentiles (nearest rank) of milliseconds.</summary>
public sealed record Latency(int Count, double P50, double P95, double P99, double Max)
{
    public static Latency Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
            return new Latency(0, 0, 0, 0, 0);
        double At(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Latency(sorted.Length, Round(At(0.50)), Round(At(0.95)), Round(At(0.99)), Round(sorted[^1]));
    }

    public static double Round(double value) => Math.Round(value, 3);
}
