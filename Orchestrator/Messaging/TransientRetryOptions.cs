namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// How long a message that failed on a transient storage error is retried in process (section <c>Orchestrator:TransientRetry</c>):
/// intervals from <see cref="FirstInterval"/>, doubling up to <see cref="MaxInterval"/>, until they add up to <see cref="Total"/>.
/// The first retries are milliseconds apart, for optimistic-concurrency conflicts between messages of one task.
/// </summary>
public sealed class TransientRetryOptions
{
    public TimeSpan Total { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan FirstInterval { get; set; } = TimeSpan.FromMilliseconds(5);
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan[] Intervals()
    {
        var intervals = new List<TimeSpan>();
        var next = FirstInterval > TimeSpan.Zero ? FirstInterval : TimeSpan.FromMilliseconds(1);
        var cap = MaxInterval > next ? MaxInterval : next;
        var sum = TimeSpan.Zero;
        while (sum < Total)
        {
            var interval = next < cap ? next : cap;
            intervals.Add(interval);
            sum += interval;
            next = interval * 2;
        }
        return [.. intervals];
    }
}
