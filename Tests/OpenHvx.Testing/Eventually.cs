namespace OpenHvx.Testing;

/// <summary>Waits on a condition (polling), never on a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> Get<T>(Func<Task<T>> read, Func<T, bool> until, TimeSpan? timeout = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        var delay = 10;
        while (true)
        {
            var value = await read();
            if (until(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Condition not met in time{(because is null ? "" : ": " + because)}. Last value: {value}");
            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 200);
        }
    }

    public static Task True(Func<Task<bool>> condition, TimeSpan? timeout = null, string? because = null)
        => Get(condition, x => x, timeout, because);
}
