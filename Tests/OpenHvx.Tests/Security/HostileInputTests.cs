using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// A generated corpus of malformed and hostile requests sent to every POST, PUT, PATCH and DELETE route of the gateway
/// and of the orchestrator (through the gateway and straight at it): bodies that are not UTF-8, hold lone surrogates,
/// NUL or control characters, trailing newlines in identifiers, are cut short, of the wrong type or media type, with
/// huge numbers, deep nesting or a member named twice; hostile path ids; non-ASCII headers; oversize chunked bodies.
/// Every answer is a 4xx, a problem with a code whenever the request reached the application, and nothing is created,
/// changed or deleted.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class HostileInputTests : DevHostFixture
{
    private const string Tenant = "corpus";
    private const string ExistingUser = "corpus-keeper";
    private readonly Dictionary<string, string> _tokens = [];

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:AdminRateLimit:TokenLimit"] = "100000",
        ["Gateway:AdminRateLimit:TokensPerPeriod"] = "100000",
        ["Gateway:RateLimit:TokenLimit"] = "100000",
        ["Gateway:RateLimit:TokensPerPeriod"] = "100000",
    };

    /// <summary>One route: a valid body whose named members (dotted paths, [0] for the first item) the corpus replaces.</summary>
    private sealed record Route(string Method, string Path, string Caller, bool Orchestrator, string Body, params string[] Fields)
    {
        public override string ToString() => $"{Method} {Path} as {Caller}";
    }

    private static readonly Route[] Routes =
    [
        new("POST", "/api/v1/admin/tasks", "admin", true,
            """{"tenantId":"corpus","action":"vm.create","data":{"name":"corpus-vm","cpu":1,"ram":"1GB","imageId":"Rocky-10-GenericCloud-Base.latest","switch":"Default Switch","cloudInit":{"hostname":"h1","user":"u1","runcmd":["echo hi"],"sshAuthorizedKeys":["ssh-ed25519 AAAA"]}}}""",
            "tenantId", "action", "data.name", "data.cpu", "data.ram", "data.imageId", "data.switch", "data.cloudInit.hostname", "data.cloudInit.user",
            "data.cloudInit.runcmd[0]", "data.cloudInit.sshAuthorizedKeys[0]"),
        new("POST", "/api/v1/admin/tasks", "admin", true,
            """{"tenantId":"corpus","action":"vm.power","target":{"kind":"vm","refId":"0f8fad5b-d9cb-469f-a165-70867728950e"},"data":{"state":"stop"}}""",
            "target.kind", "target.refId", "target.agentId", "data.state"),
        new("POST", "/api/v1/tenant/tasks", "writer", true,
            """{"action":"vm.create","data":{"name":"corpus-vm2","cpu":1,"ram":"1GB","cloudInit":{"hostname":"h2","user":"u2","packages":["curl"]}}}""",
            "action", "data.name", "data.cpu", "data.ram", "data.cloudInit.hostname", "data.cloudInit.packages[0]"),
        new("POST", "/api/v1/admin/tenants", "admin", true, """{"tenantId":"corpus-new","name":"Corpus","status":"active","limits":{"cpu":4}}""",
            "tenantId", "name", "status", "limits.cpu"),
        new("PATCH", "/api/v1/admin/tenants/corpus", "admin", true, """{"name":"Corpus","status":"active","limits":{"cpu":4}}""", "name", "status", "limits.cpu"),
        new("PATCH", "/api/v1/admin/tenants/corpus/quotas", "admin", true, """{"cpu":4,"memoryMB":8192}""", "cpu", "memoryMB"),
        new("POST", "/api/v1/admin/images", "admin", true,
            """{"name":"corpus-image","version":"20250101","file":"corpus.vhdx","minStorageGB":10,"os":"linux","publishedAt":"2025-01-01T00:00:00Z"}""",
            "name", "version", "file", "imageId", "minStorageGB", "generation", "os", "publishedAt"),
        new("PUT", "/api/v1/admin/images/corpus-image.20250101", "admin", true,
            """{"name":"corpus-image","version":"20250101","file":"corpus.vhdx","minStorageGB":10}""", "name", "version", "file", "imageId", "minStorageGB"),
        new("POST", "/api/v1/admin/users", "admin", false,
            """{"username":"corpus-user","password":"corpus-password-1","tenantId":"corpus","roles":["tenant-user-r"]}""", "username", "password", "tenantId", "roles[0]"),
        new("PATCH", "/api/v1/admin/users/corpus-keeper", "admin", false, """{"disabled":false,"roles":["tenant-user-rw"]}""", "disabled", "password", "roles[0]"),
        new("POST", "/api/v1/admin/clients", "admin", false, """{"clientId":"corpus-client","tenantId":"corpus","roles":["tenant-user-r"]}""", "clientId", "tenantId", "roles[0]"),
        new("POST", "/api/v1/tenant/users", "tenant-admin", false, """{"username":"corpus-user2","password":"corpus-password-2","roles":["tenant-user-r"]}""",
            "username", "password", "tenantId", "roles[0]"),
    ];

    /// <summary>Routes that take an id in the path; the corpus puts hostile ids there.</summary>
    private static readonly (string Method, string Template, bool Orchestrator)[] IdRoutes =
    [
        ("DELETE", "/api/v1/admin/tenants/{id}", true),
        ("PATCH", "/api/v1/admin/tenants/{id}", true),
        ("PATCH", "/api/v1/admin/tenants/{id}/quotas", true),
        ("POST", "/api/v1/admin/tenants/{id}/quotas/recount", true),
        ("PUT", "/api/v1/admin/images/{id}", true),
        ("DELETE", "/api/v1/admin/images/{id}", true),
        ("DELETE", "/api/v1/admin/users/{id}", false),
        ("PATCH", "/api/v1/admin/users/{id}", false),
        ("DELETE", "/api/v1/admin/clients/{id}", false),
        ("DELETE", "/api/v1/admin/tenants/{id}/identities", false),
        ("POST", "/api/v1/admin/dead-letters/{id}/replay", true),
        ("POST", "/api/v1/admin/tasks/{id}/retry", true),
        ("POST", "/api/v1/admin/tasks/{id}/cancel", true),
    ];

    /// <summary>What replaces a member: each is wrong for every member of the routes above (no -1: it means "unlimited").</summary>
    private static readonly (string Name, string Json)[] Values =
    [
        ("trailing newline", "\"corpus\\n\""),
        ("NUL", "\"cor\\u0000pus\""),
        ("lone high surrogate", "\"a\\ud800b\""),
        ("lone low surrogate", "\"\\udc00\""),
        ("control character", "\"corpus\\u0007\""),
        ("huge number", "1e400"),
        ("too many digits", "123456789012345678901234567890"),
        ("negative", "-2"),
        ("boolean", "true"),
        ("array", "[\"corpus\"]"),
        ("object", "{\"corpus\":1}"),
        ("5000 characters", "\"" + new string('A', 5000) + "\""),
    ];

    /// <summary>Whole bodies, with their media type.</summary>
    private static IEnumerable<(string Name, byte[] Body, string? MediaType)> WholeBodies(string valid)
    {
        byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
        yield return ("invalid UTF-8 bytes", [.. Utf8("{\"name\":\""), 0xff, 0xfe, .. Utf8("\"}")], "application/json");
        yield return ("overlong UTF-8", [.. Utf8("{\"name\":\"a"), 0xc0, 0xaf, .. Utf8("\"}")], "application/json");
        yield return ("UTF-8 encoded surrogate", [.. Utf8("{\"name\":\""), 0xed, 0xa0, 0x80, .. Utf8("\"}")], "application/json");
        yield return ("invalid UTF-8 in a member name", [.. Utf8("{\""), 0xff, .. Utf8("\":1}")], "application/json");
        yield return ("lone surrogate in a member name", Utf8("{\"a\\ud800\":1}"), "application/json");
        yield return ("truncated", Utf8(valid[..(valid.Length / 2)]), "application/json");
        yield return ("empty", [], "application/json");
        yield return ("root array", Utf8("[" + valid + "]"), "application/json");
        yield return ("root string", Utf8("\"corpus\""), "application/json");
        yield return ("root number", Utf8("1e400"), "application/json");
        yield return ("deep nesting", Utf8(new string('[', 200) + new string(']', 200)), "application/json");
        yield return ("duplicate member", Utf8(valid.Insert(1, "\"x\":1,\"x\":2,")), "application/json");
        yield return ("duplicate nested member", Utf8(valid.Replace("{\"", "{\"dup\":1,\"dup\":2,\"")), "application/json");
        yield return ("text/plain", Utf8(valid), "text/plain");
        yield return ("form media type", Utf8(valid), "application/x-www-form-urlencoded");
        yield return ("no media type", Utf8(valid), null);
        yield return ("UTF-16 charset", Encoding.Unicode.GetBytes(valid), "application/json; charset=utf-16");
    }

    private static readonly string[] HostileIds =
    [
        "corpus%0A", "corpus%0D%0A", "%FF%FE", "%00", "%ED%A0%80", "..%2F..%2Fetc", "*", "corpus%20", "%E2%80%AEcorpus", new string('a', 300),
    ];

    [OneTimeSetUp]
    public async Task CreateTheCorpusTenantAsync()
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = Tenant })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        _tokens["admin"] = Client.DefaultRequestHeaders.Authorization!.Parameter!;
        using var writer = await Tokens.TenantClientAsync(Client, DevHost.Url, ExistingUser, Tenant, "tenant-user-rw");
        _tokens["writer"] = writer.DefaultRequestHeaders.Authorization!.Parameter!;
        using var tenantAdmin = await Tokens.TenantClientAsync(Client, DevHost.Url, "corpus-admin", Tenant, "tenant-admin");
        _tokens["tenant-admin"] = tenantAdmin.DefaultRequestHeaders.Authorization!.Parameter!;
    }

    /// <summary>Everything a request could create, change or delete, as the API reports it.</summary>
    private async Task<string> StateAsync()
    {
        var state = new StringBuilder();
        foreach (var path in new[] { "/api/v1/admin/tenants", "/api/v1/admin/images", "/api/v1/admin/users", "/api/v1/admin/clients", "/api/v1/admin/tasks?limit=500",
                     $"/api/v1/admin/tenants/{Tenant}/quotas" })
        {
            var text = await Client.GetStringAsync(path);
            // Task documents change on their own (the agent's heartbeats do not, but timestamps of listed users do not either).
            state.AppendLine(path).AppendLine(text);
        }
        state.AppendLine(string.Join(",", Directory.Exists(Path.Combine(DevHost.AgentData, "vms"))
            ? Directory.GetDirectories(Path.Combine(DevHost.AgentData, "vms")).Select(Path.GetFileName).Order()
            : []));
        return state.ToString();
    }

    private async Task<(HttpStatusCode Status, string Text, string? MediaType)> SendAsync(string method, string baseUrl, string path, string caller,
        byte[]? body, string? mediaType)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), baseUrl + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens[caller]);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = null;
            if (mediaType is not null)
                request.Content.Headers.TryAddWithoutValidation("Content-Type", mediaType);
        }
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    private static string Replace(string valid, string field, string valueJson)
    {
        const string placeholder = "__corpus_value__";
        var root = JsonNode.Parse(valid)!;
        var parts = field.Split('.');
        var parent = root;
        foreach (var part in parts[..^1])
            parent = parent[part] ?? (parent[part] = new JsonObject());
        var last = parts[^1];
        if (last.EndsWith("[0]", StringComparison.Ordinal))
            parent[last[..^3]]!.AsArray()[0] = placeholder;
        else
            parent[last] = placeholder;
        // The value is spliced in as raw text: a lone surrogate escape cannot even be parsed into a node.
        return root.ToJsonString().Replace($"\"{placeholder}\"", valueJson);
    }

    private static IEnumerable<(string Case, byte[] Body, string? MediaType)> CorpusOf(Route route)
    {
        foreach (var field in route.Fields)
        {
            // A boolean member takes a boolean: that one replacement would be a valid request.
            var boolean = Replace(route.Body, field, "true") == route.Body || Replace(route.Body, field, "false") == route.Body;
            foreach (var (name, json) in Values.Where(v => !(boolean && v.Json == "true")))
                yield return ($"{field} = {name}", Encoding.UTF8.GetBytes(Replace(route.Body, field, json)), "application/json");
        }
        foreach (var (name, body, mediaType) in WholeBodies(route.Body))
            yield return (name, body, mediaType);
    }

    [Test]
    public async Task Hostile_bodies_and_path_ids_get_a_4xx_problem_with_a_code_and_change_nothing()
    {
        var before = await StateAsync();
        var failures = new List<string>();
        var sent = 0;
        async Task ProbeAsync(string method, string path, string caller, bool orchestrator, string @case, byte[]? body, string? mediaType)
        {
            foreach (var (where, baseUrl) in orchestrator ? new[] { ("gateway", DevHost.Url), ("direct", DevHost.App.CoreUrl) } : [("gateway", DevHost.Url)])
            {
                sent++;
                var (status, text, answeredType) = await SendAsync(method, baseUrl, path, caller, body, mediaType);
                var code = answeredType == "application/problem+json" ? JsonDocument.Parse(text).RootElement.GetProperty("code").GetString() : null;
                // Kestrel itself refuses a path with NUL, before any code of ours runs: a bare 400 is all it can say.
                var refusedByTheServer = status == HttpStatusCode.BadRequest && text.Length == 0 && @case == "id %00";
                if ((int)status is < 400 or >= 500 || (code is null && !refusedByTheServer))
                    failures.Add($"{method} {path} ({where}) with {@case}: {(int)status} {code ?? answeredType ?? "(no body)"} {Truncated(text)}");
            }
        }

        foreach (var route in Routes)
        {
            foreach (var (@case, body, mediaType) in CorpusOf(route))
                await ProbeAsync(route.Method, route.Path, route.Caller, route.Orchestrator, @case, body, mediaType);
        }
        foreach (var (method, template, orchestrator) in IdRoutes)
        {
            foreach (var id in HostileIds)
            {
                var body = method is "PATCH" or "PUT" ? Encoding.UTF8.GetBytes("""{"name":"x"}""") : null;
                await ProbeAsync(method, template.Replace("{id}", id), "admin", orchestrator, "id " + id, body, body is null ? null : "application/json");
            }
        }

        Assert.That(failures, Is.Empty, $"{failures.Count} of {sent} hostile requests were not refused with a 4xx problem:\n" + string.Join("\n", failures.Take(40)));
        Assert.That(sent, Is.GreaterThan(1000));
        Assert.That(await StateAsync(), Is.EqualTo(before), "nothing was created, changed or deleted");
    }

    [Test]
    public async Task Hostile_queries_get_a_4xx_problem_and_never_a_5xx()
    {
        foreach (var query in new[] { "limit=1e400", "limit=-1", "offset=99999999999999999999", "olderThanSeconds=%FF", "status=%00", "tenantId=corpus%0A", "action=%ED%A0%80",
                     "state=" + new string('x', 5000) })
        {
            foreach (var baseUrl in new[] { DevHost.Url, DevHost.App.CoreUrl })
            {
                var (status, text, type) = await SendAsync("GET", baseUrl, "/api/v1/admin/tasks?" + query, "admin", null, null);
                Assert.That((int)status, Is.LessThan(500), $"{query}: {text}");
                if ((int)status >= 400)
                    Assert.That(type, Is.EqualTo("application/problem+json"), query);
            }
        }
    }

    [Test]
    public async Task A_non_ascii_header_is_refused_with_400_ERR_BAD_HEADER_not_forwarded_into_a_502()
    {
        foreach (var (header, value) in new[] { ("Idempotency-Key", "ключ"), ("X-Request-Id", "trace\u00e9"), ("Accept", "application/json\u00ff") })
        {
            foreach (var port in new[] { new Uri(DevHost.Url).Port, new Uri(DevHost.App.CoreUrl).Port })
            {
                var body = """{"tenantId":"corpus","action":"vm.create","data":{"name":"header-vm"}}""";
                var answer = await RawAsync(port,
                    $"POST /api/v1/admin/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {_tokens["admin"]}\r\nContent-Type: application/json\r\n" +
                    $"{header}: {value}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");
                Assert.That(answer, Does.StartWith("HTTP/1.1 400"), $"{header} on port {port}: {answer}");
                Assert.That(answer, Does.Contain("ERR_BAD_HEADER").Or.Contain("ERR_BAD_REQUEST").Or.Not.Contain("{"), answer);
            }
        }
        var tasks = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={Tenant}");
        Assert.That(tasks.GetProperty("items").GetArrayLength(), Is.Zero, "nothing was submitted");
    }

    [Test]
    public async Task A_chunked_body_over_the_limit_without_a_length_gets_413()
    {
        // 2 MB, sent chunked (no Content-Length), to a gateway route and a proxied one. The server may answer and close
        // before the client has sent everything: the answer is read whatever happened to the rest of the body.
        foreach (var path in new[] { "/api/v1/admin/tenants", "/api/v1/admin/users" })
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, new Uri(DevHost.Url).Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {_tokens["admin"]}\r\nContent-Type: application/json\r\n" +
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
            var chunk = Encoding.ASCII.GetBytes($"{64 * 1024:x}\r\n{new string('a', 64 * 1024)}\r\n");
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("9\r\n{\"name\":\"\r\n"));
                for (var sent = 0; sent < 2 * 1024 * 1024; sent += 64 * 1024)
                    await stream.WriteAsync(chunk);
                await stream.WriteAsync(Encoding.ASCII.GetBytes("2\r\n\"}\r\n0\r\n\r\n"));
            }
            catch (IOException)
            {
                // The server stopped reading: it has answered.
            }
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(answer, Does.StartWith("HTTP/1.1 413"), $"{path}: {answer}");
            Assert.That(answer, Does.Contain("\"code\":\"ERR_PAYLOAD_TOO_LARGE\""));
        }
    }

    [Test]
    public async Task A_body_shorter_than_its_content_length_gets_a_4xx_not_a_502()
    {
        // The client announces more than it sends and waits: the server's minimum body data rate ends the read.
        const string body = """{"tenantId":"corpus-short","name":"x"}""";
        var answer = await RawAsync(new Uri(DevHost.Url).Port,
            $"POST /api/v1/admin/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {_tokens["admin"]}\r\nContent-Type: application/json\r\n" +
            $"Content-Length: {body.Length + 50}\r\n\r\n{body}");
        Assert.That(answer, Does.StartWith("HTTP/1.1 4"), answer);
        Assert.That(answer, Does.Contain("\"code\":\"ERR_"), answer);
        Assert.That((await Client.GetAsync("/api/v1/admin/tenants/corpus-short")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task An_unknown_method_or_path_gets_a_problem_with_a_code_not_an_empty_answer()
    {
        foreach (var baseUrl in new[] { DevHost.Url, DevHost.App.CoreUrl })
        {
            var (status, text, type) = await SendAsync("PUT", baseUrl, "/api/v1/admin/tenants", "admin", null, null);
            Assert.That(status, Is.EqualTo(HttpStatusCode.MethodNotAllowed), text);
            Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo("ERR_METHOD_NOT_ALLOWED"));
            (status, text, type) = await SendAsync("GET", baseUrl, "/api/v1/admin/nothing-here", "admin", null, null);
            Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound), text);
            Assert.That(type, Is.EqualTo("application/problem+json"));
        }
    }

    [Test]
    public async Task Token_requests_of_every_malformed_shape_get_a_4xx()
    {
        var forms = new (string Body, string MediaType)[]
        {
            ("grant_type=password&username=%FF%FE&password=x&audience=tenant", "application/x-www-form-urlencoded"),
            ("grant_type=password&username=admin%0A&password=x&audience=tenant", "application/x-www-form-urlencoded"),
            ("grant_type=password&username=%ED%A0%80&password=%00&audience=tenant", "application/x-www-form-urlencoded"),
            ("grant_type=password&grant_type=client_credentials&username=a&password=b", "application/x-www-form-urlencoded"),
            ("grant_type=refresh_token&refresh_token=" + new string('A', 5000), "application/x-www-form-urlencoded"),
            ("grant_type=client_credentials&client_id=%00&client_secret=x", "application/x-www-form-urlencoded"),
            ("grant_type=%E2%80%AE", "application/x-www-form-urlencoded"),
            ("""{"grant_type":"password","username":"admin","password":"x"}""", "application/json"),
            ("%%%", "application/x-www-form-urlencoded"),
            ("", "text/plain"),
        };
        foreach (var (body, mediaType) in forms)
        {
            using var http = new HttpClient();
            using var content = new StringContent(body, Encoding.UTF8);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
            using var response = await http.PostAsync(DevHost.Url + "/connect/token", content);
            Assert.That((int)response.StatusCode, Is.InRange(400, 499), $"{body[..Math.Min(body.Length, 60)]}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static string Truncated(string text) => text.Length > 200 ? text[..200] + "…" : text;

    /// <summary>Bytes the client libraries refuse to send (non-ASCII headers, a short body), over a raw socket; the start of the answer.</summary>
    private static async Task<string> RawAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var buffer = new char[4096];
        var read = await reader.ReadBlockAsync(buffer, 0, buffer.Length).WaitAsync(TimeSpan.FromSeconds(30));
        return new string(buffer, 0, read);
    }
}
