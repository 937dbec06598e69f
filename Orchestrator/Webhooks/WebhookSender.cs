using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>What one delivery attempt came to: delivered (a 2xx answer), or why not.</summary>
public sealed record WebhookAttempt(bool Delivered, string? Error)
{
    public static readonly WebhookAttempt Success = new(true, null);

    public static WebhookAttempt Failure(string error) => new(false, error);
}

/// <summary>The body of a delivery (the Standard Webhooks shape): the event type, when it happened, and the event as subscribers see it.</summary>
public sealed record WebhookMessage(string Type, DateTimeOffset Timestamp, TaskEventView Data);

/// <summary>
/// Sends one event to one webhook as a Standard Webhooks message: <c>POST</c>, JSON body, headers <c>webhook-id</c> (<c>evt_&lt;sequence&gt;</c>,
/// the same on every retry), <c>webhook-timestamp</c> (this attempt, unix seconds) and <c>webhook-signature</c>. Connects only to
/// addresses <see cref="WebhookAddressPolicy"/> allows (checked on the address connected to), follows no redirect, uses no proxy,
/// gives up after <see cref="WebhookOptions.Timeout"/>, and never reads the receiver's body.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http;
    private readonly WebhookAddressPolicy _policy;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _timeout;

    public WebhookSender(WebhookAddressPolicy policy, IOptions<WebhookOptions> options, TimeProvider clock)
    {
        _policy = policy;
        _clock = clock;
        _timeout = options.Value.Timeout;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            // A proxy would be the address connected to, and the check would pass for whatever it forwards to.
            UseProxy = false,
            UseCookies = false,
            ConnectCallback = ConnectAsync,
            // A tenant's receiver gets no trace context of ours.
            ActivityHeadersPropagator = null,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("OpenHVX-Webhooks/1");
    }

    public static string MessageId(TaskEvent e) => $"evt_{e.Sequence}";

    public static string Body(TaskEvent e) => JsonSerializer.Serialize(new WebhookMessage(e.Type, e.At, TaskEventView.Of(e)), Json);

    public async Task<WebhookAttempt> SendAsync(Webhook webhook, TaskEvent e, CancellationToken cancellationToken)
    {
        var id = MessageId(e);
        var timestamp = _clock.GetUtcNow().ToUnixTimeSeconds();
        var body = Body(e);
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        // Not a span: the URL's path may hold the receiver's secret (chat webhooks do).
        request.Options.Set(ServiceDefaults.Telemetry.ServiceTelemetry.Untraced, true);
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSecret.Sign(webhook.Secret, id, timestamp, body));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
                return WebhookAttempt.Success;
            var answer = $"HTTP {status} {ReasonPhrases.GetReasonPhrase(status)}".TrimEnd();
            return WebhookAttempt.Failure(status is >= 300 and < 400 ? answer + " (redirects are not followed)" : answer);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WebhookAttempt.Failure($"no answer within {_timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex) when (Find<WebhookAddressRefusedException>(ex) is { } refused)
        {
            return WebhookAttempt.Failure("address refused: " + refused.Message);
        }
        catch (HttpRequestException ex)
        {
            return WebhookAttempt.Failure(Find<SocketException>(ex) is { } socket ? $"connection failed: {socket.SocketErrorCode}" : $"request failed: {ex.HttpRequestError}");
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await _policy.ResolveAsync(host, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            if (socket.RemoteEndPoint is IPEndPoint remote)
                _policy.Check(remote.Address, host);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static T? Find<T>(Exception? exception) where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T found)
                return found;
        }
        return null;
    }

    public void Dispose() => _http.Dispose();
}
