using System.Net.Http.Json;
using System.Text.Json;

namespace OpenHvx.Tests.Cli;

/// <summary><c>openhvx vm ...</c> against a real DevHost: tasks followed to their end, data checked before sending, API errors mapped.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CliVmTests : CliFixture
{
    // Pausing a VM fails on the simulated host: a task that ends FAILED.
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Agent:Simulated:Faults:Suspend-VM:Message"] = "the host refused to pause",
    };

    private async Task<string> CreateVmAsync(string tenantId, string name)
    {
        var created = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", name, "--wait", "--output", "json");
        Assert.That(created.ExitCode, Is.EqualTo(0), created.ToString());
        return created.Json().GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!;
    }

    [Test]
    public async Task Vm_create_with_wait_shows_the_saga_states_then_the_result_and_exits_0()
    {
        var tenantId = await TenantAsync();

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "web1", "--cpu", "2", "--ram", "2GB",
            "--cloud-init-ssh-authorized-keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b",
            "--cloud-init-packages", "nginx", "--cloud-init-packages", "curl", "--wait");
        TestContext.Out.WriteLine(run);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Error, Does.Contain("AwaitingResult").And.Contain("Succeeded").And.Contain("SUCCESS"), "each transition is shown as it comes");
        Assert.That(run.Out, Does.Contain("SUCCESS").And.Contain("\"guid\""), "the final task with its result");
        var task = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={tenantId}")).GetProperty("items")[0];
        Assert.That(task.GetProperty("data").GetProperty("cloudInit").GetProperty("packages").EnumerateArray().Select(p => p.GetString()),
            Is.EqualTo(new[] { "nginx", "curl" }), "a repeated option is a list");
    }

    [Test]
    public async Task Vm_create_with_output_json_prints_the_task_document_alone_for_jq()
    {
        var tenantId = await TenantAsync();
        var (_, token) = await TenantUserAsync(tenantId);

        var run = await RunAsync(Environment(token), ["vm", "create", "--name", "api1", "--wait", "-o", "json"]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var task = run.Json();
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        Assert.That(task.GetProperty("tenantId").GetString(), Is.EqualTo(tenantId), "a tenant user acts in its own tenant");
        Assert.That(task.TryGetProperty("agentId", out _), Is.False, "the tenant's view of the task, as the API sent it");
    }

    [Test]
    public async Task Vm_create_without_wait_prints_the_accepted_task()
    {
        var tenantId = await TenantAsync();

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "nowait", "-o", "json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(Guid.TryParse(run.Json().GetProperty("taskId").GetString(), out _), Is.True);
        Assert.That(run.Json().GetProperty("statusUrl").GetString(), Does.Contain("/api/v1/admin/tasks/"));
    }

    [Test]
    public async Task Invalid_data_is_refused_before_sending_with_exit_2_and_the_APIs_own_messages()
    {
        var tenantId = await TenantAsync();

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "bad name", "--cpu", "65", "--cloud-init-network-mode", "static");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Out, Is.Empty);
        Assert.That(await TaskCountAsync(tenantId), Is.Zero, "nothing was sent");
        var api = await (await Client.PostAsJsonAsync("/api/v1/admin/tasks", new
        {
            tenantId, action = "vm.create", data = new { name = "bad name", cpu = 65, cloudInit = new { network = new { mode = "static" } } },
        })).Content.ReadFromJsonAsync<JsonElement>();
        foreach (var field in api.GetProperty("errors").EnumerateObject())
            Assert.That(run.Error, Does.Contain($"({field.Name}): {field.Value[0].GetString()}"), "the API's message, with the option to change");
        Assert.That(run.Error, Does.Contain("--cpu (data.cpu)").And.Contain("--cloud-init-network-address (data.cloudInit.network.address)"));
    }

    [Test]
    public async Task A_number_option_given_text_gets_the_members_rule_as_message()
    {
        var run = await AsAdminAsync("vm", "edit", Guid.NewGuid().ToString(), "--cpu", "two");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("--cpu (data.cpu): must be an integer from 1 to 64"));
    }

    [Test]
    public async Task A_taken_name_exits_5_with_ERR_NAME_TAKEN_and_a_hint()
    {
        var tenantId = await TenantAsync();
        await CreateVmAsync(tenantId, "dup");

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "dup");

        Assert.That(run.ExitCode, Is.EqualTo(5), run.ToString());
        Assert.That(run.Error, Does.StartWith("error: ERR_NAME_TAKEN: ").And.Contain("choose another --name"));
        Assert.That(run.Out, Is.Empty);
    }

    [Test]
    public async Task Over_quota_exits_5_with_ERR_QUOTA_EXCEEDED()
    {
        var tenantId = await TenantAsync(new { cpu = 2 });

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "big", "--cpu", "4");

        Assert.That(run.ExitCode, Is.EqualTo(5), run.ToString());
        Assert.That(run.Error, Does.Contain("ERR_QUOTA_EXCEEDED").And.Contain("openhvx quota"));
    }

    [Test]
    public async Task An_admin_without_tenant_exits_2_with_ERR_TENANT_REQUIRED()
    {
        var run = await AsAdminAsync("vm", "create", "--name", "orphan");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("ERR_TENANT_REQUIRED").And.Contain("--tenant"));
    }

    [Test]
    public async Task A_task_that_fails_on_its_host_exits_1_with_its_error_and_still_shows_the_task()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateVmAsync(tenantId, "pausable");

        var run = await AsAdminAsync("vm", "power", vmId, "--tenant", tenantId, "--state", "pause", "--wait");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Error, Does.Contain("ended FAILED"));
        Assert.That(run.Out, Does.Contain("FAILED"));
    }

    [Test]
    public async Task Vm_edit_power_and_delete_run_to_SUCCESS_with_their_derived_options()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateVmAsync(tenantId, "cycle");

        var edit = await AsAdminAsync("vm", "edit", vmId, "--tenant", tenantId, "--cpu", "3", "--dynamic-memory-enabled", "--wait", "-o", "json");
        var stop = await AsAdminAsync("vm", "power", vmId, "--tenant", tenantId, "--state", "stop", "--force", "--wait", "-o", "json");
        var delete = await AsAdminAsync("vm", "delete", vmId, "--tenant", tenantId, "--delete-disks", "--wait", "-o", "json");

        Assert.That((edit.ExitCode, stop.ExitCode, delete.ExitCode), Is.EqualTo((0, 0, 0)), $"{edit}\n{stop}\n{delete}");
        Assert.That(edit.Json().GetProperty("data").GetProperty("dynamicMemory").GetProperty("enabled").GetBoolean(), Is.True);
        Assert.That(stop.Json().GetProperty("data").GetProperty("force").GetBoolean(), Is.True);
        Assert.That(delete.Json().GetProperty("data").GetProperty("deleteDisks").GetBoolean(), Is.True);
    }

    [Test]
    public async Task A_wait_that_runs_out_of_its_timeout_exits_7()
    {
        var tenantId = await TenantAsync();

        var run = await AsAdminAsync("vm", "create", "--tenant", tenantId, "--name", "slow", "--wait", "--timeout", "0");

        Assert.That(run.ExitCode, Is.EqualTo(7), run.ToString());
        Assert.That(run.Error, Does.Contain("openhvx task watch"));
    }
}
