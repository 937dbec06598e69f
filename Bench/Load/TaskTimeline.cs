using System.Text.Json;

namespace OpenHvx.Bench.Load;

/// <summary>Where a task's time goes: from the client's submit to the saga's first state, then each state of its timeline.</summary>
public static class TaskTimeline
{
    public const string ApiToSaga = "POST→saga";

    /// <summary>Median milliseconds spent in each segment, over the given (submit time, task document) pairs, in timeline order.</summary>
    public static IReadOnlyDictionary<string, double> Medians(IEnumerable<(DateTimeOffset SubmittedAt, JsonElement Task)> tasks)
    {
        var segments = new Dictionary<string, List<double>>();
        var order = new List<string>();
        void Add(string label, double ms)
        {
            if (!segments.TryGetValue(label, out var list))
            {
                segments[label] = list = [];
                order.Add(label);
            }
            list.Add(ms);
        }
        foreach (var (submittedAt, task) in tasks)
        {
            var timeline = task.GetProperty("timeline").EnumerateArray()
                .Select(e => (Label: Label(e), At: e.GetProperty("at").GetDateTimeOffset())).ToList();
            if (timeline.Count == 0)
                continue;
            Add(ApiToSaga, (timeline[0].At - submittedAt).TotalMilliseconds);
            for (var i = 0; i + 1 < timeline.Count; i++)
                Add(timeline[i].Label, (timeline[i + 1].At - timeline[i].At).TotalMilliseconds);
        }
        return order.ToDictionary(label => label, label => Latency.Of(segments[label]).P50);
    }

    private static string Label(JsonElement entry)
    {
        var state = entry.GetProperty("state").GetString()!;
        return entry.GetProperty("status").GetString() == "running" ? state + " (running)" : state;
    }
}
