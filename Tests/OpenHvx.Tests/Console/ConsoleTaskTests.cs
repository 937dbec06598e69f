using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Playwright;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace OpenHvx.Tests.Console;

/// <summary>
/// The console's task list and task page against the real orchestrator and simulated agent: failures with their code, cancel and retry from
/// the page, filters and live updates, tenant isolation, and a successful vm.create's timeline and placement.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ConsoleTaskTests : ConsoleFixture
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private AgentOptions Agent => DevHost.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

    /// <summary>Changes the simulated host (its config is read on every cmdlet call) until disposed.</summary>
    private IDisposable Simulate(Action<SimulatedHostOptions> change, Action<SimulatedHostOptions> undo)
    {
        var host = DevHost.Services.GetRequiredService<SimulatedHost>();
        change(Agent.Simulated);
        host.WriteConfig();
        return new Restore(() =>
        {
            undo(Agent.Simulated);
            host.WriteConfig();
        });
    }

    private IDisposable Failing(string cmdlet, string message)
        => Simulate(s => s.Faults[cmdlet] = new SimulatedFault { Message = message, Rate = 1 }, s => s.Faults.Remove(cmdlet));

    private IDisposable Slow(string cmdlet, int milliseconds)
        => Simulate(s => s.LatencyMs[cmdlet] = milliseconds, s => s.LatencyMs.Remove(cmdlet));

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    private static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<string> TenantAsync(string prefix)
    {
        var tenantId = UniqueName(prefix);
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        return tenantId;
    }

    /// <summary>Submits a vm.create as the admin; returns the task id.</summary>
    private async Task<string> CreateVmAsync(string tenantId, string? name = null)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks",
            new { tenantId, action = "vm.create", data = new { name = name ?? UniqueName("vm"), cpu = 1, ram = "1GB" } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString()!;
    }

    private async Task<JsonElement> WaitForStatusAsync(string taskId, params string[] statuses)
        => await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}"),
            t => statuses.Contains(t.GetProperty("status").GetString()), Wait, $"{taskId} reaches {string.Join("/", statuses)}");

    private static ILocator Status(IPage page) => page.Locator("#task-status");

    [Test]
    public async Task A_failed_task_page_shows_its_error_code_and_message_in_an_alert()
    {
        string taskId;
        using (Failing("Start-VM", "power supply on fire"))
        {
            taskId = await CreateVmAsync("test1");
            await WaitForStatusAsync(taskId, "FAILED");
        }

        var page = await SignInAsAdminAsync();
        await page.GotoAsync($"/console/#/tasks/{taskId}");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync(taskId);
        await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("FAILED");
        var alert = page.Locator("#task-error");
        await Expect(alert).ToHaveAttributeAsync("role", "alert");
        await Expect(alert.Locator(".error-code")).ToHaveTextAsync("ERR_SIMULATED_FAULT");
        await Expect(alert).ToContainTextAsync("power supply on fire");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Timeline" }).GetByRole(AriaRole.Rowheader, new() { Name = "Failed", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Retry as a new task" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel task" })).ToHaveCountAsync(0);
    }

    [Test]
    public async Task A_running_task_is_canceled_from_its_page_and_its_retry_opens_as_a_new_task()
    {
        var page = await SignInAsAdminAsync();
        string taskId;
        using (Slow("New-VM", 30_000))
        {
            taskId = await CreateVmAsync("test1");
            await WaitForStatusAsync(taskId, "running");
            await page.GotoAsync($"/console/#/tasks/{taskId}");
            await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("running");

            await page.GetByRole(AriaRole.Button, new() { Name = "Cancel task" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel the task" }).ClickAsync();

            await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("CANCELED", new() { Timeout = 45_000 });
        }
        await Expect(page.Locator("#task-error .error-code")).ToHaveTextAsync("ERR_CANCELED");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel task" })).ToHaveCountAsync(0);
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{taskId}")).GetProperty("status").GetString(), Is.EqualTo("CANCELED"));

        await page.GetByRole(AriaRole.Button, new() { Name = "Retry as a new task" }).ClickAsync();

        await Expect(page).Not.ToHaveURLAsync(new Regex(Regex.Escape(taskId) + "$"));
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = taskId })).ToBeVisibleAsync();
        await Expect(page.Locator("#task-facts")).ToContainTextAsync("Retry of");
        await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("SUCCESS");
    }

    [Test]
    public async Task The_list_filters_by_status_and_shows_a_new_task_live_without_a_reload()
    {
        var tenantId = await TenantAsync("list");
        string failed;
        using (Failing("Start-VM", "no power"))
        {
            failed = await CreateVmAsync(tenantId);
            await WaitForStatusAsync(failed, "FAILED");
        }
        var page = await SignInAsAdminAsync();
        await page.GotoAsync($"/console/#/tasks?tenantId={tenantId}");
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Tasks" }).Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(page.Locator($"tr[data-task-id='{failed}']")).ToContainTextAsync("ERR_SIMULATED_FAULT");

        await page.GetByLabel("Status").SelectOptionAsync("SUCCESS");

        await Expect(page.GetByText("No task matches these filters.")).ToBeVisibleAsync();
        await Expect(page).ToHaveURLAsync(new Regex("status=SUCCESS"));
        var navigated = 0;
        page.FrameNavigated += (_, _) => navigated++;

        var created = await CreateVmAsync(tenantId);

        var row = page.Locator($"tr[data-task-id='{created}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row.Locator(".badge")).ToHaveTextAsync("SUCCESS");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(page.Locator($"tr[data-task-id='{failed}']")).ToHaveCountAsync(0);
        Assert.That(navigated, Is.Zero, "the list updated in place, without a reload");

        await row.GetByRole(AriaRole.Link).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync(created);
    }

    [Test]
    public async Task A_tenant_user_sees_its_own_tasks_only_and_another_tenants_task_is_not_found()
    {
        var tenantA = await TenantAsync("ta");
        var tenantB = await TenantAsync("tb");
        var user = UniqueName("user-a");
        using var writer = await Tokens.TenantClientAsync(Client, DevHost.Url, user, tenantA, "tenant-user-rw");
        var ownTask = await CreateVmAsync(tenantA);
        var otherTask = await CreateVmAsync(tenantB);
        await WaitForStatusAsync(ownTask, "SUCCESS");
        await WaitForStatusAsync(otherTask, "SUCCESS");

        var page = await SignInAsync(user, user + "-password-1");

        await page.GotoAsync($"/console/#/tasks/{otherTask}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Task not found" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync(otherTask);
        await Expect(page.GetByText(tenantB)).ToHaveCountAsync(0);

        await page.GotoAsync($"/console/#/tasks/{ownTask}");
        await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("SUCCESS");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Placement" })).ToHaveCountAsync(0);

        await page.GotoAsync("/console/#/tasks");
        await Expect(page.Locator($"tr[data-task-id='{ownTask}']")).ToBeVisibleAsync();
        await Expect(page.Locator($"tr[data-task-id='{otherTask}']")).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Tasks" }).Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(page.GetByLabel("Tenant")).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Columnheader, new() { Name = "Agent" })).ToHaveCountAsync(0);
    }

    [Test]
    public async Task A_successful_vm_create_page_shows_the_timeline_reaching_Succeeded_and_the_placement_candidates()
    {
        var taskId = await CreateVmAsync("test1");
        var page = await SignInAsAdminAsync();
        await page.GotoAsync($"/console/#/tasks/{taskId}");

        var timeline = page.GetByRole(AriaRole.Table, new() { Name = "Timeline" });
        await Expect(timeline.GetByRole(AriaRole.Rowheader, new() { Name = "Succeeded", Exact = true })).ToBeVisibleAsync();
        await Expect(Status(page).Locator(".badge")).ToHaveTextAsync("SUCCESS");
        Assert.That(await timeline.Locator("tbody tr").CountAsync(), Is.GreaterThan(2), "the saga's states before Succeeded are shown");

        var candidates = page.GetByRole(AriaRole.Table, new() { Name = "Placement candidates" });
        var elected = candidates.GetByRole(AriaRole.Row).Filter(new() { HasText = TestDevHost.AgentId });
        await Expect(elected).ToHaveCountAsync(1);
        await Expect(elected).ToContainTextAsync("elected");
        await Expect(elected.Locator("td").Nth(0)).ToHaveTextAsync("yes");
        await Expect(page.Locator("#task-facts")).ToContainTextAsync(TestDevHost.AgentId);
        await Expect(page.Locator("#task-quota")).ToContainTextAsync("committed");
        await Expect(page.Locator("#task-result pre")).ToContainTextAsync("\"vm\"");
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0);
    }
}
