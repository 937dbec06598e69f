using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace OpenHvx.Tests.Support;

/// <summary>One span as an OTLP exporter sent it: the service (resource <c>service.name</c>), ids in hex, name and kind.</summary>
public sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/HTTP receiver (protobuf, <c>POST /v1/traces</c>) on a loopback port, for services started with
/// OTEL_EXPORTER_OTLP_ENDPOINT pointing at it. It decodes ExportTraceServiceRequest by its field numbers (opentelemetry-proto,
/// trace/v1/trace.proto) and answers every other signal 200 without reading it.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();

    private OtlpReceiver(WebApplication app)
    {
        _app = app;
    }

    public string Url { get; private set; } = "";

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    /// <summary>What a service needs to export here, over http/protobuf, in batches a quarter second apart.</summary>
    public IReadOnlyDictionary<string, string> ExporterEnvironment => new Dictionary<string, string>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Url,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "250",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "60000",
    };

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Testing.ServiceProcess.FreePort()}");
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            foreach (var span in ReadExportRequest(body.ToArray()))
                receiver._spans.Enqueue(span);
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/{signal}", () => Results.Bytes([], "application/x-protobuf"));
        await app.StartAsync();
        receiver.Url = app.Urls.First();
        return receiver;
    }

    private static IEnumerable<ReceivedSpan> ReadExportRequest(byte[] payload)
    {
        var spans = new List<ReceivedSpan>();
        foreach (var resourceSpans in Fields(payload, 1))
        {
            var service = "";
            foreach (var resource in Fields(resourceSpans, 1))
                service = Attributes(resource, 1).GetValueOrDefault("service.name", service);
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                foreach (var span in Fields(scopeSpans, 2))
                {
                    var input = new CodedInputStream(span);
                    string traceId = "", spanId = "", parentId = "", name = "";
                    var kind = 0;
                    uint tag;
                    while ((tag = input.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(tag))
                        {
                            case 1: traceId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                            case 2: spanId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                            case 4: parentId = Convert.ToHexStringLower(input.ReadBytes().ToByteArray()); break;
                            case 5: name = input.ReadString(); break;
                            case 6: kind = input.ReadEnum(); break;
                            default: input.SkipLastField(); break;
                        }
                    }
                    spans.Add(new ReceivedSpan(service, traceId, spanId, parentId, name, kind, Attributes(span, 9)));
                }
            }
        }
        return spans;
    }

    /// <summary>The key/string-value attributes (KeyValue: 1 key, 2 AnyValue with 1 string_value) in field <paramref name="field"/>.</summary>
    private static Dictionary<string, string> Attributes(byte[] message, int field)
    {
        var attributes = new Dictionary<string, string>();
        foreach (var keyValue in Fields(message, field))
        {
            var key = Fields(keyValue, 1).Select(b => System.Text.Encoding.UTF8.GetString(b)).FirstOrDefault();
            var value = Fields(keyValue, 2).SelectMany(v => Fields(v, 1)).Select(b => System.Text.Encoding.UTF8.GetString(b)).FirstOrDefault();
            if (key is not null && value is not null)
                attributes[key] = value;
        }
        return attributes;
    }

    /// <summary>Every length-delimited field <paramref name="field"/> of a message, as bytes.</summary>
    private static List<byte[]> Fields(byte[] message, int field)
    {
        var found = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                found.Add(input.ReadBytes().ToByteArray());
            else
                input.SkipLastField();
        }
        return found;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
