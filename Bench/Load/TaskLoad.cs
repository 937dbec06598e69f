using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OpenHvx.Bench.Load;

/// <summary>One POST and its answer, timed from the client.</summary>
public sealed record Submission(Guid? TaskId, int Status, string? Code, double AnswerMs, DateTimeOffset SubmittedAt);

/// <summary>Closed-loop load: <c>concurrency</c> workers post <c>count</c> requests in all, each waiting for its answer.</summary>
public static class TaskLoad
{
    public static HttpClient Client(string baseUrl, string? token, int concurrency)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Math.Max(1, concurrency), PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri(baseUrl),
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static Task<(IReadOnlyList<Submission> Submissions, double Seconds)> PostAsync(HttpClient client, string path, int count, int concurrency, Func<int, string> body)
        => SendAsync(client, i => new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body(i), Encoding.UTF8, "application/json") }, count, concurrency);

    public static Task<(IReadOnlyList<Submission> Submissions, double Seconds)> GetAsync(HttpClient client, string path, int count, int concurrency)
        => SendAsync(client, _ => new HttpRequestMessage(HttpMethod.Get, path), count, concurrency);

    private static async Task<(IReadOnlyList<Submission> Submissions, double Seconds)> SendAsync(HttpClient client, Func<int, HttpRequestMessage> request, int count, int concurrency)
    {
        var results = new Submission[count];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count)
                    return;
                var at = DateTimeOffset.UtcNow;
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var message = request(i);
                    using var response = await client.SendAsync(message);
                    var text = await response.Content.ReadAsStringAsync();
                    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    results[i] = Parse(response.StatusCode, text, elapsed, at);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    results[i] = new Submission(null, 0, "CLIENT_" + ex.GetType().Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds, at);
                }
            }
        }));
        return (results, clock.Elapsed.TotalSeconds);
    }

    private static Submission Parse(HttpStatusCode status, string text, double elapsed, DateTimeOffset at)
    {
        Guid? taskId = null;
        string? code = null;
        try
        {
            var body = JsonDocument.Parse(text).RootElement;
            if (body.ValueKind == JsonValueKind.Object)
            {
                if (body.TryGetProperty("taskId", out var id) && id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out var parsed))
                    taskId = parsed;
                if (body.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String)
                    code = c.GetString();
            }
        }
        catch (JsonException)
        {
        }
        if ((int)status >= 300)
            code ??= "HTTP_" + (int)status;
        return new Submission(taskId, (int)status, code, elapsed, at);
    }

    /// <summary>
    /// Waits until none of the tenant's tasks is pending, sent or running (three one-item queries twice a second, so
    /// that watching costs the orchestrator next to nothing), then reads every task once for its <c>finishedAt</c>.
    /// </summary>
    public static async Task<Dictionary<Guid, JsonElement>> WaitForFinalAsync(HttpClient admin, string tenantId, TimeSpan timeout)
    {
        await WaitForIdleAsync(admin, tenantId, timeout);
        return await ReadFinalAsync(admin, tenantId);
    }

    /// <summary>Until none of the tenant's tasks is pending, sent or running (three one-item queries twice a second), or the timeout.</summary>
    public static async Task WaitForIdleAsync(HttpClient admin, string tenantId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var inFlight = false;
            foreach (var status in new[] { "pending", "sent", "running" })
            {
                var page = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={tenantId}&status={status}&limit=1");
                inFlight |= page.GetProperty("items").GetArrayLength() > 0;
            }
            if (!inFlight)
                return;
            await Task.Delay(500);
        }
    }

    /// <summary>Every finished (SUCCESS or FAILED) task of the tenant, by id, read 500 at a time.</summary>
    public static async Task<Dictionary<Guid, JsonElement>> ReadFinalAsync(HttpClient admin, string tenantId)
    {
        var final = new Dictionary<Guid, JsonElement>();
        for (var offset = 0; ; offset += 500)
        {
            var page = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={tenantId}&limit=500&offset={offset}");
            var items = page.GetProperty("items").EnumerateArray().ToList();
            foreach (var task in items.Where(t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED"))
                final[Guid.Parse(task.GetProperty("taskId").GetString()!)] = task.Clone();
            if (items.Count < 500)
                return final;
        }
    }
}
