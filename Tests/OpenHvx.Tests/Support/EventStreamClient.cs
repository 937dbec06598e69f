using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace OpenHvx.Tests.Support;

/// <summary>A server-sent event stream read as a client does (the BCL's <see cref="SseParser"/>), one event at a time.</summary>
public sealed class EventStreamClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly IAsyncEnumerator<SseItem<string>> _items;

    private EventStreamClient(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _items = SseParser.Create(body).EnumerateAsync().GetAsyncEnumerator();
    }

    public HttpResponseMessage Response => _response;

    /// <summary>A GET of <paramref name="path"/> that accepts an event stream, its headers read and its body not.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Opens the stream; it must answer 200 with <c>text/event-stream</c>.</summary>
    public static async Task<EventStreamClient> OpenAsync(HttpClient client, string path, string? lastEventId = null)
    {
        var response = await SendAsync(client, path, lastEventId);
        if (response.StatusCode != HttpStatusCode.OK)
            Assert.Fail($"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        return new EventStreamClient(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<SseItem<string>?> NextAsync(TimeSpan? timeout = null)
    {
        var moved = await _items.MoveNextAsync().AsTask().WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        return moved ? _items.Current : null;
    }

    /// <summary>Events until (and with) the first that <paramref name="last"/> matches; fails if the stream ends before it.</summary>
    public async Task<List<SseItem<string>>> ReadUntilAsync(Func<SseItem<string>, bool> last, TimeSpan? timeout = null)
    {
        var items = new List<SseItem<string>>();
        while (await NextAsync(timeout) is { } item)
        {
            items.Add(item);
            if (last(item))
                return items;
        }
        Assert.Fail($"The stream ended before the awaited event; it sent: {string.Join(", ", items.Select(i => i.EventType))}");
        return items;
    }

    /// <summary>Every event until the server ends the stream.</summary>
    public async Task<List<SseItem<string>>> ReadToEndAsync(TimeSpan? timeout = null)
    {
        var items = new List<SseItem<string>>();
        while (await NextAsync(timeout) is { } item)
            items.Add(item);
        return items;
    }

    public static JsonElement Data(SseItem<string> item) => JsonDocument.Parse(item.Data).RootElement;

    public async ValueTask DisposeAsync()
    {
        _response.Dispose();
        try
        {
            await _items.DisposeAsync();
        }
        catch (Exception ex) when (ex is ObjectDisposedException or IOException or HttpRequestException or OperationCanceledException)
        {
        }
    }
}
