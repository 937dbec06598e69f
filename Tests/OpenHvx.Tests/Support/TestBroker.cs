using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Tests.Support;

/// <summary>
/// The local RabbitMQ that `./test.sh` starts. Each fixture gets a virtual host of its own, so
/// topology and messages never leak between tests. Without a broker the tests fail under CI and
/// are skipped (with the reason) elsewhere.
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    public static string BaseUrl => Environment.GetEnvironmentVariable("OPENHVX_TEST_RABBITMQ") is { Length: > 0 } url ? url.TrimEnd('/') + "/" : "amqp://guest:guest@localhost:5672/";

    private TestBroker(string vhost, string user, string password)
    {
        VirtualHost = vhost;
        User = user;
        Password = password;
    }

    public string VirtualHost { get; }
    public string User { get; }

    /// <summary>A password of this broker user only, so tests can check that no service ever logs it.</summary>
    public string Password { get; }

    public string Url
    {
        get
        {
            var uri = new UriBuilder(BaseUrl) { UserName = User, Password = Password, Path = "/" + VirtualHost };
            return uri.Uri.ToString();
        }
    }

    private static readonly object Gate = new();
    private static Task<TestBroker>? _spare;
    private static readonly List<Task> Deletions = [];
    private static readonly HashSet<string> AgentUsers = [];

    /// <summary>
    /// A virtual host of its own. Without the management API (<see cref="BrokerManagementApi"/>) making one takes a few
    /// rabbitmqctl calls (an Erlang VM each): the next one is made in the background meanwhile, while the test that takes this
    /// one mostly waits on its processes.
    /// </summary>
    public static async Task<TestBroker> CreateAsync()
    {
        RequireBroker();
        Task<TestBroker>? spare;
        lock (Gate)
        {
            spare = _spare;
            _spare = Task.Run(MakeAsync);
        }
        if (spare is not null)
        {
            try
            {
                return await spare;
            }
            catch (InvalidOperationException)
            {
                // Made while the broker was down (its restart test): make another now.
            }
        }
        return await MakeAsync();
    }

    private static async Task<TestBroker> MakeAsync()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var vhost = "openhvx-test-" + id;
        var user = "openhvx-test-" + id;
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var broker = new TestBroker(vhost, user, password);
        try
        {
            if (BrokerManagementApi.Instance is { } api)
            {
                await Task.WhenAll(api.AddVhostAsync(vhost), api.AddUserAsync(user, password));
                await Task.WhenAll(api.SetPermissionsAsync(vhost, user, ".*", ".*", ".*"), api.SetPermissionsAsync(vhost, "guest", ".*", ".*", ".*"));
                return broker;
            }
            // Each rabbitmqctl call starts an Erlang VM (about a second): independent calls run side by side.
            await Task.WhenAll(CtlAsync("add_vhost", vhost), CtlAsync("add_user", user, password));
            await Task.WhenAll(CtlAsync("set_permissions", "-p", vhost, user, ".*", ".*", ".*"), CtlAsync("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"));
            return broker;
        }
        catch (InvalidOperationException)
        {
            await broker.DeleteAsync();
            throw;
        }
    }

    /// <summary>Until the virtual hosts of stacks that ended are deleted and the next one is made (before the broker is stopped on purpose).</summary>
    public static async Task SettleAsync()
    {
        Task[] pending;
        lock (Gate)
            pending = [.. Deletions, .. _spare is null ? [] : new Task[] { _spare }];
        try
        {
            await Task.WhenAll(pending);
        }
        catch (InvalidOperationException)
        {
            // A spare made while the broker was down: CreateAsync makes another.
        }
    }

    /// <summary>
    /// After the last broker test (OpenHvx.Tests.Broker's set-up fixture): deletes the spare virtual host, waits for the
    /// deletions still running, and deletes the agents' broker users that no other stack uses.
    /// </summary>
    public static async Task CleanUpAsync()
    {
        Task<TestBroker>? spare;
        lock (Gate)
        {
            spare = _spare;
            _spare = null;
        }
        if (spare is not null)
        {
            try
            {
                await (await spare).DeleteAsync();
            }
            catch (InvalidOperationException)
            {
            }
        }
        await SettleAsync();
        string[] agentUsers;
        lock (Gate)
        {
            agentUsers = [.. AgentUsers];
            AgentUsers.Clear();
        }
        try
        {
            await Task.WhenAll(agentUsers.Select(async agentUser =>
            {
                // Its permissions went with the virtual hosts; any left belong to another stack using the same agent id.
                if (BrokerManagementApi.Instance is { } api)
                {
                    if ((await api.UserPermissionsAsync(agentUser)).GetArrayLength() == 0)
                        await api.DeleteUserAsync(agentUser);
                    return;
                }
                var permissions = JsonDocument.Parse(await CtlAsync("list_user_permissions", "-q", "--formatter", "json", agentUser)).RootElement;
                if (permissions.GetArrayLength() == 0)
                    await CtlAsync("delete_user", agentUser);
            }));
        }
        catch (InvalidOperationException)
        {
        }
    }

    public static void RequireBroker()
    {
        var uri = new Uri(BaseUrl);
        try
        {
            using var client = new TcpClient();
            client.Connect(uri.Host, uri.Port > 0 ? uri.Port : 5672);
        }
        catch (SocketException ex)
        {
            var message = $"RabbitMQ is not reachable at {uri.Host}:{uri.Port} ({ex.SocketErrorCode}); run the tests with ./test.sh, which starts it.";
            if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
                Assert.Fail(message);
            Assert.Ignore(message);
        }
    }

    /// <summary>
    /// The broker URL of an agent's own user, made by tools/agent-broker-user.sh on this virtual host (so the script is
    /// what the broker tests run on): through the management API when the broker has it (the script's RABBITMQ_API_URL mode,
    /// milliseconds), else with rabbitmqctl (six Erlang VMs). Users are broker-wide: --new-password takes over one an earlier stack (or a crashed run)
    /// left behind; they are deleted after the last broker test (<see cref="CleanUpAsync"/>), not with each virtual host.
    /// </summary>
    public async Task<string> CreateAgentUserAsync(string agentId)
    {
        var uri = new Uri(BaseUrl);
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(ServiceProcess.RepositoryRoot, "tools", "agent-broker-user.sh"), "--new-password", agentId, VirtualHost })
            info.ArgumentList.Add(arg);
        info.Environment["AGENT_BROKER_HOST"] = uri.Host;
        info.Environment["AGENT_BROKER_PORT"] = (uri.Port > 0 ? uri.Port : 5672).ToString();
        if (BrokerManagementApi.Instance is { } api)
        {
            info.Environment["RABBITMQ_API_URL"] = api.Url.ToString();
            info.Environment["RABBITMQ_API_USER"] = api.User;
            info.Environment["RABBITMQ_API_PASSWORD"] = api.Password;
        }
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"tools/agent-broker-user.sh {agentId} {VirtualHost} failed ({process.ExitCode}): {error}");
        lock (Gate)
            AgentUsers.Add(WireTopology.AgentBrokerUser(agentId));
        return output.Trim();
    }

    public Task<JsonElement> ExchangesAsync() => ListAsync("list_exchanges", "name", "type", "durable");
    public Task<JsonElement> QueuesAsync() => ListAsync("list_queues", "name", "durable", "arguments", "messages");
    public Task<JsonElement> BindingsAsync() => ListAsync("list_bindings", "source_name", "destination_name", "destination_kind", "routing_key");

    /// <summary>The server-named queues (<c>amq.gen-…</c>) bound to <paramref name="exchange"/>, such as each orchestrator's task.events wake-up queue.</summary>
    public async Task<string[]> ServerNamedQueuesBoundToAsync(string exchange)
        => [.. (await BindingsAsync()).EnumerateArray()
            .Where(b => b.GetProperty("source_name").GetString() == exchange)
            .Select(b => b.GetProperty("destination_name").GetString()!)
            .Where(q => q.StartsWith("amq.gen-", StringComparison.Ordinal))];

    /// <summary>How many consumers the broker shows on <paramref name="queue"/> (0 when it does not exist).</summary>
    public async Task<long> ConsumersOnAsync(string queue)
    {
        var queues = await ListAsync("list_queues", "name", "consumers");
        return queues.EnumerateArray().Where(q => q.GetProperty("name").GetString() == queue).Select(q => q.GetProperty("consumers").GetInt64()).FirstOrDefault();
    }

    public async Task<long> MessagesInAsync(string queue)
    {
        var queues = await QueuesAsync();
        return queues.EnumerateArray().Where(q => q.GetProperty("name").GetString() == queue).Select(q => q.GetProperty("messages").GetInt64()).FirstOrDefault();
    }

    private async Task<JsonElement> ListAsync(string command, params string[] columns)
    {
        var output = await CtlAsync([command, "-q", "-p", VirtualHost, "--formatter", "json", .. columns]);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    public static async Task<string> CtlAsync(params string[] args)
    {
        var info = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        return output;
    }

    /// <summary>Deletes the virtual host and its user in the background (<see cref="SettleAsync"/> waits for it).</summary>
    public ValueTask DisposeAsync()
    {
        lock (Gate)
        {
            Deletions.RemoveAll(d => d.IsCompleted);
            Deletions.Add(Task.Run(DeleteAsync));
        }
        return ValueTask.CompletedTask;
    }

    private async Task DeleteAsync()
    {
        try
        {
            if (BrokerManagementApi.Instance is { } api)
                await Task.WhenAll(api.DeleteVhostAsync(VirtualHost), api.DeleteUserAsync(User));
            else
                await Task.WhenAll(CtlAsync("delete_vhost", VirtualHost), CtlAsync("delete_user", User));
        }
        catch (InvalidOperationException)
        {
            // The broker may be down on purpose (restart tests); the vhost goes with the test broker.
        }
    }
}
