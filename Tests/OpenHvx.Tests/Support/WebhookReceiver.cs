using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OpenHvx.Tests.Support;

/// <summary>One request a <see cref="WebhookReceiver"/> got: its headers, raw body and the status it answered.</summary>
public sealed record ReceivedWebhook(string Path, IHeaderDictionary Headers, string Body, int Answered)
{
    public string Id => Headers["webhook-id"].ToString();
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    public JsonElement Data => Json.GetProperty("data");
    public string Type => Json.GetProperty("type").GetString()!;
    public string TaskId => Data.GetProperty("taskId").GetString()!;
}

/// <summary>
/// A real HTTP listener (Kestrel on a loopback port) that webhooks deliver to: it records every request and answers what
/// <see cref="Answer"/> says (200 unless told otherwise).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>The status to answer a request with (the request's path, the webhook-id); 200 by default.</summary>
    public Func<string, string, int> Answer { get; set; } = (_, _) => 200;

    public string Url { get; private set; } = "";

    public IReadOnlyList<ReceivedWebhook> All => _received.ToArray();

    /// <summary>The requests to <paramref name="path"/> that were answered with a 2xx.</summary>
    public IReadOnlyList<ReceivedWebhook> Accepted(string path) => _received.Where(r => r.Path == path && r.Answered is >= 200 and < 300).ToList();

    public IReadOnlyList<ReceivedWebhook> To(string path) => _received.Where(r => r.Path == path).ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            var headers = new HeaderDictionary();
            foreach (var (name, value) in http.Request.Headers)
                headers[name] = value;
            var path = http.Request.Path.Value!;
            var status = receiver.Answer(path, headers["webhook-id"].ToString());
            receiver._received.Enqueue(new ReceivedWebhook(path, headers, body, status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
