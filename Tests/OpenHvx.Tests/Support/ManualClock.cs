namespace OpenHvx.Tests.Support;

/// <summary>A clock that moves only when a test moves it (whole milliseconds, as the stores keep them).</summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now;

    public ManualClock(DateTimeOffset start) => _now = Truncate(start);

    public ManualClock() : this(new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now = Truncate(_now + by);

    private static DateTimeOffset Truncate(DateTimeOffset value) => DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());
}
