using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>What an operator sees of one task over RabbitMQ: one trace across the three processes, and its ids on every log line.</summary>
public sealed partial class RabbitMqStackTests
{
    private const int ServerKind = 2;
    // Pinned to the small agent, so that these VMs leave agent-medium the better score of the placement test.
    private const string PinnedAgent = "agent-small";
    private static object PinnedTarget => new { agentId = PinnedAgent };
    private const int ConsumerKind = 5;

    private async Task<(Guid TaskId, string RequestId)> CreateVmWithRequestIdAsync()
    {
        var requestId = "req-" + Guid.NewGuid().ToString("N")[..12];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks")
        {
            Content = JsonContent.Create(new { tenantId = "test1", action = "vm.create", target = PinnedTarget, data = new { name = UniqueName() } }),
        };
        request.Headers.Add("X-Request-Id", requestId);
        var response = await _stack!.Api.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForFinalAsync(response.Headers.Location!);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        return (task.GetProperty("taskId").GetGuid(), requestId);
    }

    [Test]
    public async Task One_vm_create_is_one_trace_from_the_gateway_through_the_saga_and_the_agent_script_back_to_the_result()
    {
        var (taskId, _) = await CreateVmWithRequestIdAsync();

        // The agent's handling names the task; its trace must hold every process's part, the result's handling included.
        List<ReceivedSpan> trace = [];
        await Eventually.True(() =>
        {
            var spans = _otlp!.Spans;
            var agentTask = spans.FirstOrDefault(s => s.Service == "openhvx-agent" && s.Attributes.GetValueOrDefault("openhvx.task.id") == taskId.ToString());
            trace = agentTask is null ? [] : [.. spans.Where(s => s.TraceId == agentTask.TraceId)];
            var ids = trace.Select(s => s.SpanId).ToHashSet();
            // Parents are exported after their children: wait for the whole tree, one root.
            return Task.FromResult(trace.Any(s => s.Service == "openhvx-orchestrator" && s.Name == "agent result")
                && trace.Any(s => s.Service == "openhvx-gateway" && s.Kind == ServerKind)
                && trace.Count(s => s.ParentSpanId.Length == 0 || !ids.Contains(s.ParentSpanId)) == 1);
        }, TimeSpan.FromSeconds(30), "the task's spans from the three services arrive, as one tree");

        var summary = string.Join("\n", trace.Select(s => $"{s.Service} {s.Kind} {s.Name}"));
        Assert.Multiple(() =>
        {
            Assert.That(trace.Where(s => s.Service == "openhvx-gateway" && s.Kind == ServerKind).Select(s => s.Name), Does.Contain("POST /api/v1/admin/{**rest}"), summary);
            Assert.That(trace.Where(s => s.Service == "openhvx-orchestrator" && s.Kind == ServerKind).Select(s => s.Name), Does.Contain("POST /api/v1/admin/tasks/"), summary);
            Assert.That(trace.Count(s => s.Service == "openhvx-orchestrator" && s.Kind == ConsumerKind), Is.GreaterThanOrEqualTo(2), "the saga's consumes\n" + summary);
            Assert.That(trace.Select(s => s.Name), Does.Contain("agent task vm.create"), summary);
            Assert.That(trace.Select(s => s.Name), Does.Contain("powershell vm.create.ps1"), summary);
            Assert.That(trace.Any(s => s.Service == "openhvx-orchestrator" && s.Name == "agent started"), Is.True, "the started message's handling\n" + summary);
            Assert.That(trace.Any(s => s.Service == "openhvx-orchestrator" && s.Name == "agent result"), Is.True, "the result's handling joins the trace\n" + summary);
            // The root is the gateway's request.
            var ids = trace.Select(s => s.SpanId).ToHashSet();
            Assert.That(trace.Single(s => s.ParentSpanId.Length == 0 || !ids.Contains(s.ParentSpanId)).Service, Is.EqualTo("openhvx-gateway"), summary);
        });
    }

    [Test]
    public async Task A_tasks_log_lines_are_json_with_its_task_tenant_request_and_trace_ids()
    {
        var (taskId, requestId) = await CreateVmWithRequestIdAsync();
        var id = taskId.ToString();

        static List<JsonElement> LinesOf(string output, string taskId)
            => [.. output.Split('\n').Where(l => l.StartsWith('{') && l.Contains(taskId, StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l).RootElement)];

        // The agent's line of the finished script, and the orchestrator's line of the task's outcome.
        await Eventually.True(() => Task.FromResult(LinesOf(_stack!.Orchestrator.Output, id).Any(l => l.GetProperty("message").GetString()!.Contains(" ended SUCCESS"))
                && LinesOf(_stack.Agents.Single(a => a.Name == PinnedAgent).Output, id).Count > 0),
            TimeSpan.FromSeconds(15), "the task's log lines");
        var lines = LinesOf(_stack!.Orchestrator.Output, id).Concat(LinesOf(_stack.Agents.Single(a => a.Name == PinnedAgent).Output, id)).ToList();
        Assert.That(lines, Is.Not.Empty);
        foreach (var line in lines)
        {
            Assert.That(line.GetProperty("taskId").GetString(), Is.EqualTo(id), line.ToString());
            Assert.That(line.GetProperty("tenantId").GetString(), Is.EqualTo("test1"), line.ToString());
            Assert.That(line.GetProperty("requestId").GetString(), Is.EqualTo(requestId), line.ToString());
            Assert.That(line.GetProperty("traceId").GetString(), Has.Length.EqualTo(32), line.ToString());
            Assert.That(line.TryGetProperty("time", out _) && line.TryGetProperty("level", out _) && line.TryGetProperty("message", out _), Is.True, line.ToString());
        }
        Assert.That(lines.Select(l => l.GetProperty("traceId").GetString()).Distinct().Count(), Is.EqualTo(1), "one trace for the task's lines");
    }

    [Test]
    public async Task The_gateway_logs_one_line_per_request_with_its_request_id_and_none_for_health_probes()
    {
        var requestId = "req-" + Guid.NewGuid().ToString("N")[..12];
        using var http = new HttpClient { BaseAddress = new Uri(_stack!.Gateway.Url) };
        for (var probe = 0; probe < 3; probe++)
            Assert.That((await http.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/agents");
        request.Headers.Add("X-Request-Id", requestId);
        Assert.That((await _stack.Api.SendAsync(request)).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        List<JsonElement> Lines() => [.. _stack.Gateway.Output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)];
        await Eventually.True(() => Task.FromResult(Lines().Any(l => l.TryGetProperty("requestId", out var id) && id.GetString() == requestId)),
            TimeSpan.FromSeconds(10), "the request's line");
        var lines = Lines().Where(l => l.TryGetProperty("requestId", out var id) && id.GetString() == requestId).ToList();
        Assert.That(lines, Has.Count.EqualTo(1), string.Join("\n", lines));
        Assert.That(lines[0].GetProperty("message").GetString(), Does.StartWith("HTTP GET /api/v1/admin/agents answered 200 in "));
        Assert.That(lines[0].GetProperty("level").GetString(), Is.EqualTo("Information"));
        Assert.That(Lines().Where(l => l.GetProperty("message").GetString()!.Contains("/health")), Is.Empty, "no line for a health probe");
    }

    [Test]
    public async Task No_password_or_token_reaches_any_log()
    {
        var tokens = await Testing.Tokens.RequestAsync(_stack!.Gateway.Url, new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["audience"] = "admin", ["username"] = "admin", ["password"] = Testing.Tokens.AdminPassword, ["scope"] = "offline_access",
        });
        var access = tokens.GetProperty("access_token").GetString()!;
        var refresh = tokens.GetProperty("refresh_token").GetString()!;
        using var admin = Testing.Tokens.Client(_stack.Gateway.Url, access);
        Assert.That((await admin.GetAsync("/api/v1/admin/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        // A refused password and a refused token are logged (as refusals), never with what was sent.
        var refused = await new HttpClient().PostAsync(_stack.Gateway.Url + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["audience"] = "admin", ["username"] = "admin", ["password"] = "wrong-password-" + refresh[..8],
        }));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        using var forged = Testing.Tokens.Client(_stack.Gateway.Url, access[..^4] + "AAAA");
        Assert.That((await forged.GetAsync("/api/v1/admin/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        await CreateVmWithRequestIdAsync();

        var logs = _stack.Logs;
        Assert.Multiple(() =>
        {
            Assert.That(logs, Does.Not.Contain(Testing.Tokens.AdminPassword), "the admin password");
            Assert.That(logs, Does.Not.Contain("wrong-password-"), "a refused password");
            Assert.That(logs, Does.Not.Contain(access[..40]), "an access token");
            Assert.That(logs, Does.Not.Contain(refresh[..40]), "a refresh token");
            Assert.That(logs, Does.Not.Contain(new Uri(_stack.Broker.Url).UserInfo.Split(':')[1]), "the orchestrator's broker password");
            foreach (var agent in _stack.Agents.Select(a => a.Name).Distinct())
                Assert.That(logs, Does.Not.Contain(new Uri(_stack.AgentBrokerUrl(agent)).UserInfo.Split(':')[1]), $"{agent}'s broker password");
        });
        // Nor any exported span.
        var attributes = string.Join("\n", _otlp!.Spans.SelectMany(s => s.Attributes.Values.Append(s.Name)));
        Assert.That(attributes, Does.Not.Contain(Testing.Tokens.AdminPassword).And.Not.Contain(access[..40]).And.Not.Contain(refresh[..40]));
    }

    [Test]
    public async Task Health_answers_are_json_naming_each_dependency_and_its_state()
    {
        using var http = new HttpClient();
        async Task<JsonElement> ReadyAsync(string url)
        {
            var response = await http.GetAsync(url + "/health/ready");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), url);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }
        static Dictionary<string, string> Checks(JsonElement answer)
            => answer.GetProperty("checks").EnumerateObject().ToDictionary(c => c.Name, c => c.Value.GetProperty("status").GetString()!);

        var orchestrator = await ReadyAsync(_stack!.Orchestrator.Url);
        Assert.That(orchestrator.GetProperty("status").GetString(), Is.EqualTo("healthy"));
        Assert.That(Checks(orchestrator), Is.EquivalentTo(new Dictionary<string, string> { ["store"] = "healthy", ["broker"] = "healthy" }));
        Assert.That(Checks(await ReadyAsync(_stack.Gateway.Url)),
            Is.EquivalentTo(new Dictionary<string, string> { ["identity-store"] = "healthy", ["orchestrator"] = "healthy" }));
        Assert.That(Checks(await ReadyAsync(_stack.Agents[0].Url)), Is.EquivalentTo(new Dictionary<string, string> { ["broker"] = "healthy" }));
        var live = JsonDocument.Parse(await http.GetStringAsync(_stack.Gateway.Url + "/health/live")).RootElement;
        Assert.That(live.GetProperty("status").GetString(), Is.EqualTo("healthy"));
    }

    [Test]
    public async Task A_clients_trace_context_and_baggage_are_not_taken_at_the_gateway()
    {
        var chosenTrace = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks")
        {
            Content = JsonContent.Create(new { tenantId = "test1", action = "vm.create", target = PinnedTarget, data = new { name = UniqueName() } }),
        };
        request.Headers.Add("traceparent", $"00-{chosenTrace}-00f067aa0ba902b7-01");
        request.Headers.Add("baggage", "openhvx.tenant_id=victim,openhvx.tenant_id=victim,openhvx.task_id=spoofed,other.key=x");
        request.Headers.Add("Correlation-Context", "openhvx.tenant_id=victim");
        var response = await _stack!.Api.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForFinalAsync(response.Headers.Location!);
        var taskId = task.GetProperty("taskId").GetString()!;

        var agentSpan = await Eventually.Get(() => Task.FromResult(_otlp!.Spans.FirstOrDefault(s => s.Service == "openhvx-agent"
            && s.Attributes.GetValueOrDefault("openhvx.task.id") == taskId)), s => s is not null, TimeSpan.FromSeconds(30), "the task's agent span");
        Assert.That(agentSpan!.TraceId, Is.Not.EqualTo(chosenTrace), "the task's trace is the platform's own");
        Assert.That(_otlp!.Spans.Where(s => s.TraceId == chosenTrace), Is.Empty);
        var lines = string.Join("\n", _stack.Orchestrator.Output, _stack.Gateway.Output, _stack.Agents.Single(a => a.Name == PinnedAgent).Output);
        Assert.That(lines, Does.Not.Contain("victim").And.Not.Contain("spoofed").And.Not.Contain("other.key"));
    }
}
