using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Cli.Auth;

namespace OpenHvx.Cli.Api;

/// <summary>
/// The API over HTTP as the signed-in caller: a bearer token on every request (renewed once on a 401 when the login can be),
/// 429 and 503 retried after their Retry-After, and every refusal turned into a <see cref="CliException"/> by <see cref="ApiErrors"/>.
/// </summary>
public sealed class ApiClient(HttpClient http, Session session)
{
    private const int Retries = 2;
    private static readonly TimeSpan LongestRetryWait = TimeSpan.FromSeconds(10);

    public Session Session => session;

    /// <summary>A request to <paramref name="path"/> under the caller's API base (<c>/api/v1/admin</c> or <c>/api/v1/tenant</c>).</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, JsonNode? body = null, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(() =>
        {
            var request = new HttpRequestMessage(method, session.ApiBase + path);
            if (body is not null)
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            if (idempotencyKey is not null)
                request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
            return request;
        }, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var raw = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw ApiErrors.From((int)response.StatusCode, raw);
        try
        {
            var json = raw.Length == 0 ? default : JsonDocument.Parse(raw).RootElement.Clone();
            return new ApiResponse((int)response.StatusCode, raw, json);
        }
        catch (JsonException)
        {
            throw new CliException(ExitCodes.Unavailable, $"{method} {path} answered {(int)response.StatusCode} without JSON: is {session.Url} an OpenHVX gateway?");
        }
    }

    public Task<ApiResponse> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, cancellationToken: cancellationToken);

    /// <summary>A server-sent event stream, its headers read and its body not; the caller disposes it.</summary>
    public Task<HttpResponseMessage> OpenStreamAsync(string path, CancellationToken cancellationToken)
        => SendRawAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, session.ApiBase + path);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            return request;
        }, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    private async Task<HttpResponseMessage> SendRawAsync(Func<HttpRequestMessage> create, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var renewed = false;
        for (var attempt = 0; ; attempt++)
        {
            using var request = create();
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await session.AccessTokenAsync(cancellationToken));
            var response = await http.SendAsync(request, completion, cancellationToken);
            if (response.StatusCode == HttpStatusCode.Unauthorized && !renewed && session.CanRefresh)
            {
                response.Dispose();
                await session.RefreshAsync(cancellationToken);
                renewed = true;
                continue;
            }
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable && attempt < Retries
                && RetryAfter(response) is { } wait && wait <= LongestRetryWait)
            {
                response.Dispose();
                await Task.Delay(wait, cancellationToken);
                continue;
            }
            return response;
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
        => response.Headers.RetryAfter is { } retry
            ? retry.Delta ?? (retry.Date is { } date ? date - DateTimeOffset.UtcNow : null)
            : null;
}
