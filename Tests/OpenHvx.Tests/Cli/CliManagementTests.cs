using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Cli;

/// <summary><c>openhvx task|agent|tenant|quota ...</c> against a real DevHost, as an admin and as a tenant user.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CliManagementTests : CliFixture
{
    // A slow vm.edit stays running long enough to be canceled.
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Agent:Simulated:LatencyMs:Set-VMProcessor"] = "5000" };

    private async Task<string> SubmitEditAsync(string tenantId, string vmId)
    {
        var response = await TaskRuns.SubmitAsync(Client, tenantId, "vm.edit", new { cpu = 3 }, vmId);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString()!;
    }

    private Task<JsonElement> TaskAsync(string taskId) => Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}");

    [Test]
    public async Task Task_list_filters_by_tenant_action_and_status()
    {
        var tenantId = await TenantAsync();
        var vmId = await TaskRuns.CreateVmAsync(Client, tenantId, "listed");
        var power = await AsAdminAsync("vm", "power", vmId, "--tenant", tenantId, "--state", "start", "--wait");
        Assert.That(power.ExitCode, Is.EqualTo(0), power.ToString());

        var creates = await AsAdminAsync("task", "list", "--tenant", tenantId, "--action", "vm.create", "--status", "SUCCESS", "-o", "json");
        var all = await AsAdminAsync("task", "list", "--tenant", tenantId, "--limit", "1");
        var table = await AsAdminAsync("task", "list", "--tenant", tenantId);

        Assert.That(creates.ExitCode, Is.EqualTo(0), creates.ToString());
        var items = creates.Json().GetProperty("items").EnumerateArray().ToList();
        Assert.That(items.Select(t => t.GetProperty("action").GetString()), Is.EqualTo(new[] { "vm.create" }));
        Assert.That(all.Out, Does.Contain("vm.power").And.Not.Contain("vm.create"), "--limit 1: the newest only");
        Assert.That(table.Out, Does.Contain(items[0].GetProperty("taskId").GetString()).And.Contain("vm.power"));
    }

    [Test]
    public async Task Task_get_shows_the_task_and_its_timeline_and_an_unknown_one_exits_4()
    {
        var tenantId = await TenantAsync();
        var created = await TaskRuns.RunAsync(Client, tenantId, "vm.create", new { name = "shown" });
        var taskId = created.GetProperty("taskId").GetString()!;

        var shown = await AsAdminAsync("task", "get", taskId);
        var json = await AsAdminAsync("task", "get", taskId, "-o", "json");
        var unknown = await AsAdminAsync("task", "get", Guid.NewGuid().ToString());

        Assert.That(shown.ExitCode, Is.EqualTo(0), shown.ToString());
        Assert.That(shown.Out, Does.Contain("HoldingQuota").And.Contain("SUCCESS").And.Contain(taskId));
        Assert.That(json.Json().GetProperty("taskId").GetString(), Is.EqualTo(taskId));
        Assert.That(unknown.ExitCode, Is.EqualTo(4), unknown.ToString());
        Assert.That(unknown.Error, Does.StartWith("error: ERR_NOT_FOUND: "));
    }

    [Test]
    public async Task Task_cancel_ends_a_running_task_and_task_retry_submits_it_again()
    {
        var tenantId = await TenantAsync();
        var vmId = await TaskRuns.CreateVmAsync(Client, tenantId, "canceled");
        var taskId = await SubmitEditAsync(tenantId, vmId);
        await Eventually.Get(() => TaskAsync(taskId), t => t.GetProperty("status").GetString() == "running", TimeSpan.FromSeconds(30), "the edit runs");

        var cancel = await AsAdminAsync("task", "cancel", taskId, "-o", "json");

        Assert.That(cancel.ExitCode, Is.EqualTo(0), cancel.ToString());
        Assert.That(cancel.Json().GetProperty("status").GetString(), Is.AnyOf("CANCELED", "canceling"));
        var watched = await AsAdminAsync("task", "watch", taskId, "--timeout", "60");
        Assert.That(watched.ExitCode, Is.EqualTo(1), "a CANCELED task: " + watched);
        Assert.That(watched.Error, Does.Contain("ended CANCELED: ERR_CANCELED"));

        var again = await AsAdminAsync("task", "cancel", taskId);
        Assert.That(again.ExitCode, Is.EqualTo(5), again.ToString());
        Assert.That(again.Error, Does.Contain("ERR_TASK_FINAL"));

        var retry = await AsAdminAsync("task", "retry", taskId, "-o", "json");
        Assert.That(retry.ExitCode, Is.EqualTo(0), retry.ToString());
        var retried = retry.Json().GetProperty("taskId").GetString()!;
        Assert.That((await TaskAsync(retried)).GetProperty("retryOf").GetString(), Is.EqualTo(taskId));
        await AsAdminAsync("task", "cancel", retried);
    }

    [Test]
    public async Task Agent_drain_keeps_new_tasks_off_the_agent_until_resume()
    {
        var tenantId = await TenantAsync();

        var list = await AsAdminAsync("agent", "list");
        var drain = await AsAdminAsync("agent", "drain", TestDevHost.AgentId, "-o", "json");
        try
        {
            Assert.That(list.ExitCode, Is.EqualTo(0), list.ToString());
            Assert.That(list.Out, Does.Contain(TestDevHost.AgentId));
            Assert.That(drain.ExitCode, Is.EqualTo(0), drain.ToString());
            Assert.That(drain.Json().GetProperty("status").GetString(), Is.EqualTo("draining"));

            var refused = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "nowhere");
            Assert.That(refused.ExitCode, Is.EqualTo(6), refused.ToString());
            Assert.That(refused.Error, Does.Contain("ERR_NO_ELIGIBLE_AGENT"));
        }
        finally
        {
            var resume = await AsAdminAsync("agent", "resume", TestDevHost.AgentId, "-o", "json");
            Assert.That(resume.ExitCode, Is.EqualTo(0), resume.ToString());
            Assert.That(resume.Json().GetProperty("status").GetString(), Is.EqualTo("active"));
        }
        var unknown = await AsAdminAsync("agent", "drain", "no-such-agent");
        Assert.That(unknown.ExitCode, Is.EqualTo(4), unknown.ToString());
    }

    [Test]
    public async Task Tenant_create_get_and_list_and_a_second_create_exits_5()
    {
        var tenantId = "cli-t-" + Guid.NewGuid().ToString("N")[..6];

        var created = await AsAdminAsync("tenant", "create", tenantId, "--name", "Tenant of the CLI", "--cpu", "8", "-o", "json");
        var again = await AsAdminAsync("tenant", "create", tenantId);
        var got = await AsAdminAsync("tenant", "get", tenantId, "-o", "json");
        var list = await AsAdminAsync("tenant", "list");

        Assert.That(created.ExitCode, Is.EqualTo(0), created.ToString());
        Assert.That(created.Json().GetProperty("limits").GetProperty("cpu").GetInt64(), Is.EqualTo(8));
        Assert.That(again.ExitCode, Is.EqualTo(5), again.ToString());
        Assert.That(again.Error, Does.Contain("ERR_TENANT_EXISTS"));
        Assert.That(got.Json().GetProperty("name").GetString(), Is.EqualTo("Tenant of the CLI"));
        Assert.That(list.Out, Does.Contain(tenantId));
    }

    [Test]
    public async Task Quota_set_changes_the_limits_and_quota_get_shows_them_to_the_admin_and_the_tenant()
    {
        var tenantId = await TenantAsync();
        var (_, token) = await TenantUserAsync(tenantId);

        var set = await AsAdminAsync("quota", "set", "--tenant", tenantId, "--cpu", "8", "--vm-count", "3", "-o", "json");
        var admin = await AsAdminAsync("quota", "get", "--tenant", tenantId);
        var own = await RunAsync(Environment(token), ["quota", "get", "-o", "json"]);

        Assert.That(set.ExitCode, Is.EqualTo(0), set.ToString());
        Assert.That(set.Json().GetProperty("cpu").GetProperty("limit").GetInt64(), Is.EqualTo(8));
        Assert.That(admin.Out, Does.Contain("vmCount").And.Contain("3"));
        Assert.That(own.ExitCode, Is.EqualTo(0), own.ToString());
        Assert.That(own.Json().GetProperty("vmCount").GetProperty("limit").GetInt64(), Is.EqualTo(3));
        var none = await AsAdminAsync("quota", "set", "--tenant", tenantId);
        Assert.That(none.ExitCode, Is.EqualTo(2), none.ToString());
    }

    [Test]
    public async Task A_tenant_login_is_refused_admin_commands_with_exit_3()
    {
        var tenantId = await TenantAsync();
        var (_, token) = await TenantUserAsync(tenantId, "tenant-user-r");

        var agents = await RunAsync(Environment(token), ["agent", "list"]);
        var write = await RunAsync(Environment(token), ["vm", "create", "--name", "readonly"]);

        Assert.That(agents.ExitCode, Is.EqualTo(3), agents.ToString());
        Assert.That(agents.Error, Does.Contain("admin command"));
        Assert.That(write.ExitCode, Is.EqualTo(3), "a read-only user: 403 " + write);
        Assert.That(write.Error, Does.Contain("ERR_FORBIDDEN"));
    }

    [Test]
    public async Task A_refused_token_exits_3_an_unreachable_gateway_6_and_a_usage_error_2()
    {
        var refused = await RunAsync(Environment("not-a-token"), ["task", "list"]);
        var unreachable = await RunAsync(new Dictionary<string, string?>(Environment(AdminToken)) { ["OPENHVX_URL"] = $"http://127.0.0.1:{ServiceProcess.FreePort()}" }, ["task", "list"]);
        var usage = await AsAdminAsync("task", "list", "--no-such-option");

        Assert.That(refused.ExitCode, Is.EqualTo(3), refused.ToString());
        Assert.That(refused.Error, Does.Contain("ERR_UNAUTHENTICATED"));
        Assert.That(unreachable.ExitCode, Is.EqualTo(6), unreachable.ToString());
        Assert.That(unreachable.Error, Does.Contain("Cannot reach"));
        Assert.That(usage.ExitCode, Is.EqualTo(2), usage.ToString());
        Assert.That(usage.Error, Does.Contain("--no-such-option").And.Contain("openhvx task list --help"));
    }
}
