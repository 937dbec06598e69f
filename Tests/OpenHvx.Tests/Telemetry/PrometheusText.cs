using System.Globalization;
using System.Text.RegularExpressions;

namespace OpenHvx.Tests.Telemetry;

/// <summary>
/// A scrape of <c>/metrics</c> (Prometheus' text format) read into series: a metric name, its labels, its value. Tests compare two
/// scrapes, since every telemetry provider in the test process reads meters of the same name.
/// </summary>
public sealed partial class PrometheusText
{
    private PrometheusText(IReadOnlyList<Series> all) => All = all;

    public IReadOnlyList<Series> All { get; }

    public static async Task<PrometheusText> ScrapeAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new AssertionException($"GET {url}: {(int)response.StatusCode} {text}");
        return Parse(text);
    }

    public static PrometheusText Parse(string text)
    {
        var series = new List<Series>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var match = SeriesLine().Match(line);
            if (!match.Success)
                throw new FormatException($"Not a Prometheus series: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(m => m.Groups["key"].Value, m => Regex.Unescape(m.Groups["value"].Value));
            series.Add(new Series(match.Groups["name"].Value, labels, Number(match.Groups["value"].Value)));
        }
        return new PrometheusText(series);
    }

    /// <summary>The sum of the series named <paramref name="name"/> that carry every label given (others may differ); 0 when none does.</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
        => Matching(name, labels).Sum(s => s.Value);

    public IEnumerable<Series> Matching(string name, params (string Key, string Value)[] labels)
        => All.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value));

    public bool Has(string name) => All.Any(s => s.Name == name);

    private static double Number(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, CultureInfo.InvariantCulture),
    };

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+-?\d+)?\s*\z")]
    private static partial Regex SeriesLine();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(\\.|[^""\\])*)""")]
    private static partial Regex LabelPair();

    public sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}
