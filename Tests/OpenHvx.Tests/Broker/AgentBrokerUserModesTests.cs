using System.Diagnostics;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// tools/agent-broker-user.sh talks to the broker with rabbitmqctl, or with curl through the management API when
/// RABBITMQ_API_URL is set (what the broker stacks use): both modes give an agent the same permissions and a password that
/// logs in, answer the same exit codes, and put no password on a command line (curl and rabbitmqctl are wrapped here to
/// record theirs).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class AgentBrokerUserModesTests
{
    private static readonly string Suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly TempFolder _folder = new("broker-user-modes");
    private readonly List<string> _users = [];
    private TestBroker? _broker;
    private BrokerManagementApi? _api;
    private string _apiUser = "";
    private readonly string _apiPassword = "api-pw-" + Guid.NewGuid().ToString("N");

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _broker = await TestBroker.CreateAsync();
        _api = BrokerManagementApi.Instance;
        if (_api is null)
            return;
        // An administrator of its own, with a password to look for on the command lines.
        _apiUser = "openhvx-test-api-" + Suffix;
        await _api.AddUserAsync(_apiUser, _apiPassword, "administrator");
        _users.Add(_apiUser);
        foreach (var name in new[] { "curl", "rabbitmqctl" })
        {
            var real = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
            if (real is null)
                continue;
            var wrapper = _folder.File(name);
            await File.WriteAllTextAsync(wrapper, $"#!/bin/bash\nprintf '%s\\n' \"{name} $*\" >> '{_folder.File("command-lines")}'\nexec '{real}' \"$@\"\n");
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        foreach (var user in _users)
        {
            try
            {
                if (_api is not null)
                    await _api.DeleteUserAsync(user);
                else
                    await TestBroker.CtlAsync("delete_user", user);
            }
            catch (InvalidOperationException)
            {
            }
        }
        if (_broker is not null)
            await _broker.DisposeAsync();
        _folder.Dispose();
    }

    private BrokerManagementApi RequireApi()
    {
        if (_api is not null)
            return _api;
        const string message = "the broker has no management API (tools/rabbitmq.sh enables it)";
        if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
            Assert.Fail(message);
        Assert.Ignore(message);
        return null!;
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(bool throughApi, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args.Prepend(Path.Combine(ServiceProcess.RepositoryRoot, "tools", "agent-broker-user.sh")))
            info.ArgumentList.Add(arg);
        info.Environment["PATH"] = _folder.Path + ":" + Environment.GetEnvironmentVariable("PATH");
        info.Environment.Remove("RABBITMQ_API_URL");
        if (throughApi)
        {
            info.Environment["RABBITMQ_API_URL"] = _api!.Url.ToString();
            info.Environment["RABBITMQ_API_USER"] = _apiUser;
            info.Environment["RABBITMQ_API_PASSWORD"] = _apiPassword;
        }
        using var script = Process.Start(info)!;
        var output = await script.StandardOutput.ReadToEndAsync();
        var error = await script.StandardError.ReadToEndAsync();
        await script.WaitForExitAsync();
        return (script.ExitCode, output.Trim(), error);
    }

    private string CommandLines => File.Exists(_folder.File("command-lines")) ? File.ReadAllText(_folder.File("command-lines")) : "";

    /// <summary>The user's permissions and topic permissions on the vhost, as rabbitmqctl lists them, with the agent id written as &lt;id&gt;.</summary>
    private async Task<string> PermissionsAsync(string agentId)
    {
        var user = "agent." + agentId;
        var permissions = JsonDocument.Parse(await TestBroker.CtlAsync("list_permissions", "-q", "-p", _broker!.VirtualHost, "--formatter", "json")).RootElement
            .EnumerateArray().Where(p => p.GetProperty("user").GetString() == user).Select(p => p.ToString());
        var topics = JsonDocument.Parse(await TestBroker.CtlAsync("list_topic_permissions", "-q", "-p", _broker.VirtualHost, "--formatter", "json")).RootElement
            .EnumerateArray().Where(p => p.GetProperty("user").GetString() == user).Select(p => p.ToString()).Order();
        return string.Join("\n", permissions.Concat(topics)).Replace(agentId, "<id>");
    }

    [Test]
    public async Task Both_modes_give_the_same_permissions_and_a_password_that_logs_in_and_none_on_a_command_line()
    {
        RequireApi();
        var byCtl = "modes-ctl-" + Suffix;
        var byApi = "modes-api-" + Suffix;
        _users.AddRange([$"agent.{byCtl}", $"agent.{byApi}"]);

        var ctl = await RunAsync(false, byCtl, _broker!.VirtualHost);
        var api = await RunAsync(true, byApi, _broker.VirtualHost);

        Assert.That(ctl.ExitCode, Is.EqualTo(0), ctl.Error);
        Assert.That(api.ExitCode, Is.EqualTo(0), api.Error);
        var expected = await PermissionsAsync(byCtl);
        Assert.That(expected, Does.Contain("^agent\\\\.<id>\\\\.((tasks|control)(_error|_skipped)?|bus)$").And.Contain("agent.telemetry"), "rabbitmqctl mode set the agent's permissions");
        Assert.That(await PermissionsAsync(byApi), Is.EqualTo(expected));
        foreach (var url in new[] { ctl.Output, api.Output })
        {
            Assert.That(url, Does.StartWith("amqp://agent.").And.EndWith("/" + _broker.VirtualHost));
            await using var connection = await new ConnectionFactory { Uri = new Uri(url) }.CreateConnectionAsync();
            Assert.That(connection.IsOpen, Is.True, url);
        }
        var lines = CommandLines;
        Assert.That(lines, Does.Contain("curl ").And.Contain("rabbitmqctl "), "both modes ran through the wrappers");
        foreach (var secret in new[] { _apiPassword, new Uri(ctl.Output).UserInfo.Split(':')[1], new Uri(api.Output).UserInfo.Split(':')[1] })
            Assert.That(lines, Does.Not.Contain(secret), "no password on a command line");
    }

    [Test]
    public async Task In_api_mode_a_new_password_replaces_the_old_and_an_existing_user_without_it_is_exit_3()
    {
        RequireApi();
        var agent = "modes-again-" + Suffix;
        _users.Add("agent." + agent);
        var first = await RunAsync(true, agent, _broker!.VirtualHost);
        Assert.That(first.ExitCode, Is.EqualTo(0), first.Error);

        var refused = await RunAsync(true, agent, _broker.VirtualHost);
        Assert.That(refused.ExitCode, Is.EqualTo(3), refused.Error);
        Assert.That(refused.Error, Does.Contain($"agent.{agent} exists"));
        Assert.That(refused.Output, Is.Empty, "no URL, no password");
        await using (var connection = await new ConnectionFactory { Uri = new Uri(first.Output) }.CreateConnectionAsync())
            Assert.That(connection.IsOpen, Is.True, "the first password still works");

        var renewed = await RunAsync(true, "--new-password", agent, _broker.VirtualHost);
        Assert.That(renewed.ExitCode, Is.EqualTo(0), renewed.Error);
        Assert.That(renewed.Output, Is.Not.EqualTo(first.Output));
        await using (var connection = await new ConnectionFactory { Uri = new Uri(renewed.Output) }.CreateConnectionAsync())
            Assert.That(connection.IsOpen, Is.True, "the new password works");
        Assert.That(async () => await (await new ConnectionFactory { Uri = new Uri(first.Output) }.CreateConnectionAsync()).DisposeAsync(),
            Throws.InstanceOf<Exception>(), "the old password no longer logs in");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Permissions_only_sets_an_existing_users_permissions_again_keeps_its_password_and_refuses_a_missing_user(bool throughApi)
    {
        RequireApi();
        var agent = (throughApi ? "modes-perm-api-" : "modes-perm-ctl-") + Suffix;
        _users.Add("agent." + agent);
        var created = await RunAsync(throughApi, agent, _broker!.VirtualHost);
        Assert.That(created.ExitCode, Is.EqualTo(0), created.Error);
        var expected = await PermissionsAsync(agent);
        // An upgrade from permissions of an earlier release: the user's results key still the old one.
        await TestBroker.CtlAsync("set_topic_permissions", "-p", _broker.VirtualHost, "agent." + agent, "results", "^task\\.[0-9a-fA-F-]{36}(\\.(started|progress))?$", "^$");
        Assert.That(await PermissionsAsync(agent), Is.Not.EqualTo(expected));

        var again = await RunAsync(throughApi, "--permissions-only", agent, _broker.VirtualHost);

        Assert.That(again.ExitCode, Is.EqualTo(0), again.Error);
        Assert.That(again.Output, Is.Empty, "no URL: the password did not change");
        Assert.That(await PermissionsAsync(agent), Is.EqualTo(expected));
        await using (var connection = await new ConnectionFactory { Uri = new Uri(created.Output) }.CreateConnectionAsync())
            Assert.That(connection.IsOpen, Is.True, "the password still works");
        var missing = await RunAsync(throughApi, "--permissions-only", "modes-perm-none-" + Suffix, _broker.VirtualHost);
        Assert.That(missing.ExitCode, Is.EqualTo(3), missing.Error);
        Assert.That(missing.Error, Does.Contain("no broker user"));
    }

    [Test]
    public async Task In_api_mode_a_missing_vhost_is_exit_2_and_a_refused_login_exit_1()
    {
        RequireApi();
        var missing = await RunAsync(true, "modes-nohost-" + Suffix, "openhvx-test-no-such-vhost-" + Suffix);
        Assert.That(missing.ExitCode, Is.EqualTo(2), missing.Error);
        Assert.That(missing.Error, Does.Contain("no virtual host"));
        Assert.That(missing.Output, Is.Empty);

        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(ServiceProcess.RepositoryRoot, "tools", "agent-broker-user.sh"), "modes-nologin-" + Suffix, _broker!.VirtualHost })
            info.ArgumentList.Add(arg);
        info.Environment["RABBITMQ_API_URL"] = _api!.Url.ToString();
        info.Environment["RABBITMQ_API_USER"] = _apiUser;
        info.Environment["RABBITMQ_API_PASSWORD"] = "wrong";
        using var script = Process.Start(info)!;
        var output = await script.StandardOutput.ReadToEndAsync();
        var error = await script.StandardError.ReadToEndAsync();
        await script.WaitForExitAsync();
        Assert.That(script.ExitCode, Is.EqualTo(1), error);
        Assert.That(error, Does.Contain("HTTP 401"));
        Assert.That(output, Is.Empty);
    }
}
