namespace OpenHvx.Tests.Support;

/// <summary>
/// A clock that moves only when a test moves it (whole milliseconds, as the stores keep them). <see cref="Advance"/> moves the wall
/// clock and the monotonic timestamp together; <see cref="StepWallClock"/> moves the wall clock alone, as an NTP step or an operator does.
/// </summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now;
    private long _timestamp;

    public ManualClock(DateTimeOffset start) => _now = Truncate(start);

    public ManualClock() : this(new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _timestamp;

    public void Advance(TimeSpan by)
    {
        var before = _now;
        _now = Truncate(_now + by);
        _timestamp += (_now - before).Ticks;
    }

    /// <summary>Sets the wall clock forward or back by <paramref name="by"/>; the monotonic timestamp does not move.</summary>
    public void StepWallClock(TimeSpan by) => _now = Truncate(_now + by);

    private static DateTimeOffset Truncate(DateTimeOffset value) => DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());
}
