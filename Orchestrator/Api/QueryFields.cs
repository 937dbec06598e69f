namespace OpenHvx.Orchestrator.Api;

/// <summary>
/// Query-string values of a list route, read whole or reported per field (400-class validation problem, never a 500):
/// one place for the paging rule (<c>limit</c> 1 to 500, default 50; <c>offset</c> from 0).
/// </summary>
public sealed class QueryFields
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public Dictionary<string, string[]> Errors { get; } = [];

    public int Int(string? value, string name, int fallback, int min, int max)
    {
        if (value is null)
            return fallback;
        if (int.TryParse(value, out var parsed) && parsed >= min && parsed <= max)
            return parsed;
        Errors[name] = [$"must be an integer from {min} to {max}"];
        return fallback;
    }

    public (int Take, int Skip) Paging(string? limit, string? offset)
        => (Int(limit, "limit", DefaultLimit, 1, MaxLimit), Int(offset, "offset", 0, 0, int.MaxValue));
}
