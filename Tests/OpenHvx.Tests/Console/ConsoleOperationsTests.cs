using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using OpenHvx.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace OpenHvx.Tests.Console;

/// <summary>
/// The console's operations pages against one DevHost: creating a VM from the form generated from the OpenAPI schema, the agents'
/// drain and resume, a tenant's quota limits, and what a tenant user may reach. Each test leaves the agent active and the limits as seeded.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ConsoleOperationsTests : ConsoleFixture
{
    private const string Tenant = "test1";
    private const string AgentId = TestDevHost.AgentId;

    private static ILocator Field(IPage page, string label) => page.GetByLabel(label, new() { Exact = true });

    private async Task<IPage> OpenAsAdminAsync(string hash)
    {
        var page = await SignInAsAdminAsync();
        await page.GotoAsync("/console/" + hash);
        return page;
    }

    private async Task<JsonElement> QuotasAsync() => await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{Tenant}/quotas");

    private async Task<int> VmCreateTaskCountAsync()
        => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={Tenant}&action=vm.create&limit=500")).GetProperty("items").GetArrayLength();

    private async Task<string> AgentStatusAsync()
        => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/agents/{AgentId}")).GetProperty("status").GetString()!;

    [Test]
    public async Task A_vm_created_through_the_form_shows_its_live_timeline_until_SUCCESS_and_exists_in_the_api()
    {
        var page = await OpenAsAdminAsync("#/create");
        await Field(page, "Tenant (required)").SelectOptionAsync(Tenant);
        await Field(page, "Name (required)").FillAsync("console-web-01");
        await Field(page, "CPU").FillAsync("1");
        await Field(page, "Memory (RAM)").FillAsync("1GB");
        await Field(page, "Image").SelectOptionAsync("Ubuntu-24.04-Server-Cloud.20251015");
        await Field(page, "Disk size (GB)").FillAsync("12");
        var cloudInit = page.GetByRole(AriaRole.Group, new() { Name = "Cloud-init" });
        await cloudInit.GetByLabel("Host name", new() { Exact = true }).FillAsync("web01");
        await cloudInit.GetByLabel("User", new() { Exact = true }).FillAsync("ops");
        await cloudInit.GetByLabel("SSH authorized keys").FillAsync("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBjZ0bTq0wA1i4s1UKcvU3RLnyHc9MRKlFvVZOv7rIEv ops@example");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the VM" }).ClickAsync();

        await Expect(page.Locator("#task-status")).ToHaveTextAsync("SUCCESS", new() { Timeout = 90_000 });
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Timeline" }).GetByRole(AriaRole.Rowheader, new() { Name = "Succeeded" })).ToBeVisibleAsync();
        var href = await page.GetByRole(AriaRole.Link, new() { Name = "Open the task" }).GetAttributeAsync("href");
        Assert.That(href, Does.Match("^#/tasks/[0-9a-f-]{36}$"));

        var task = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{href!["#/tasks/".Length..]}");
        var resources = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{Tenant}/resources");
        var vm = resources.EnumerateArray().SingleOrDefault(r => r.GetProperty("name").GetString() == "console-web-01");
        Assert.Multiple(() =>
        {
            Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
            Assert.That(task.GetProperty("tenantId").GetString(), Is.EqualTo(Tenant));
            var data = task.GetProperty("data");
            Assert.That(data.GetProperty("cpu").GetInt32(), Is.EqualTo(1), "the number field is sent as a number");
            Assert.That(data.GetProperty("imageId").GetString(), Is.EqualTo("Ubuntu-24.04-Server-Cloud.20251015"));
            Assert.That(data.GetProperty("storageGB").GetInt32(), Is.EqualTo(12));
            Assert.That(data.GetProperty("cloudInit").GetProperty("user").GetString(), Is.EqualTo("ops"));
            Assert.That(data.GetProperty("cloudInit").GetProperty("hostname").GetString(), Is.EqualTo("web01"));
            Assert.That(data.GetProperty("cloudInit").GetProperty("sshAuthorizedKeys").GetArrayLength(), Is.EqualTo(1));
            Assert.That(vm.ValueKind, Is.EqualTo(JsonValueKind.Object), resources.ToString());
            Assert.That(vm.ValueKind == JsonValueKind.Object ? vm.GetProperty("state").GetString() : null, Is.EqualTo("present"));
        });
    }

    [Test]
    public async Task An_invalid_name_and_cpu_show_messages_on_their_fields_from_the_schema_and_send_no_request()
    {
        var page = await OpenAsAdminAsync("#/create");
        var before = await VmCreateTaskCountAsync();
        var posts = new List<string>();
        page.Request += (_, request) => { if (request.Method == "POST" && request.Url.Contains("/tasks")) posts.Add(request.Url); };

        var name = Field(page, "Name (required)");
        var cpu = Field(page, "CPU");
        await name.FillAsync("-not a name");
        await cpu.FillAsync("100");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the VM" }).ClickAsync();

        await Expect(name).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#f-name-error")).ToContainTextAsync("Must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
        await Expect(name).ToHaveAttributeAsync("aria-describedby", new System.Text.RegularExpressions.Regex(@"\bf-name-error\b"));
        await Expect(cpu).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#f-cpu-error")).ToHaveTextAsync("Must be from 1 to 64.");
        await Expect(name).ToBeFocusedAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("2 fields need a change");

        // An empty name is required by the schema; a fixed field loses its message.
        await name.FillAsync("");
        await cpu.FillAsync("4");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the VM" }).ClickAsync();
        await Expect(page.Locator("#f-name-error")).ToHaveTextAsync("Required.");
        await Expect(cpu).Not.ToHaveAttributeAsync("aria-invalid", "true");

        Assert.That(posts, Is.Empty, "no task was submitted");
        Assert.That(await VmCreateTaskCountAsync(), Is.EqualTo(before), "the API has no new task");
    }

    [Test]
    public async Task A_field_error_of_the_api_is_shown_on_its_field()
    {
        var page = await OpenAsAdminAsync("#/create");
        await Field(page, "Tenant (required)").SelectOptionAsync(Tenant);
        await Field(page, "Name (required)").FillAsync("console-gen1");
        await Field(page, "Image").SelectOptionAsync("Rocky-10-GenericCloud-Base.10.1-20251120");
        // Valid by the schema (1 or 2), refused by the API: the image is generation 2.
        await Field(page, "Generation").SelectOptionAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the VM" }).ClickAsync();

        var generation = Field(page, "Generation");
        await Expect(generation).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("#f-generation-error")).ToContainTextAsync("is generation 2");
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("ERR_VALIDATION");
        await Expect(page.Locator("#task-status")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task Draining_an_agent_shows_it_draining_in_the_page_and_the_api_and_resuming_makes_it_active_again()
    {
        var page = await OpenAsAdminAsync("#/agents");
        var card = page.GetByRole(AriaRole.Region, new() { Name = AgentId });
        try
        {
            await Expect(card.Locator("[data-field=online]")).ToHaveTextAsync("online");
            await Expect(card.GetByRole(AriaRole.Img, new() { Name = "CPU:" })).ToBeVisibleAsync();
            await Expect(card.Locator("[data-field=status]")).ToHaveTextAsync("active");
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Resume" })).ToBeDisabledAsync();

            await card.GetByRole(AriaRole.Button, new() { Name = "Drain" }).ClickAsync();
            await Expect(card.Locator("[data-field=status]")).ToHaveTextAsync("draining");
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Drain" })).ToBeDisabledAsync();
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Resume" })).ToBeFocusedAsync();
            Assert.That(await AgentStatusAsync(), Is.EqualTo("draining"));

            // Still draining after the page's next refresh.
            var updated = await page.Locator("#agents-updated").TextContentAsync();
            await Expect(page.Locator("#agents-updated")).Not.ToHaveTextAsync(updated!, new() { Timeout = 20_000 });
            await Expect(card.Locator("[data-field=status]")).ToHaveTextAsync("draining");

            await card.GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();
            await Expect(card.Locator("[data-field=status]")).ToHaveTextAsync("active");
            Assert.That(await AgentStatusAsync(), Is.EqualTo("active"));
        }
        finally
        {
            // The fixture's other tests need the only agent.
            using var _ = await Client.PatchAsJsonAsync($"/api/v1/admin/agents/{AgentId}", new { status = "active" });
        }
    }

    [Test]
    public async Task An_admin_edits_a_quota_limit_from_the_page_and_sees_invalid_limits_and_limits_below_use_reported()
    {
        var seeded = (await QuotasAsync()).GetProperty("vmCount").GetProperty("limit").GetInt64();
        var seededCpu = (await QuotasAsync()).GetProperty("cpu").GetProperty("limit").GetInt64();
        await TaskRuns.CreateVmAsync(Client, Tenant, "quota-probe");
        try
        {
            var page = await OpenAsAdminAsync("#/tenants");
            await page.GetByRole(AriaRole.Link, new() { Name = Tenant, Exact = true }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Tenant {Tenant}" })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Img, new() { Name = "CPU:" })).ToBeVisibleAsync();
            await Expect(page.Locator("#tenant-resources")).ToContainTextAsync("quota-probe");

            var cpu = Field(page, "CPU limit (vCPU)");
            var save = page.GetByRole(AriaRole.Button, new() { Name = "Save limits" });
            await cpu.FillAsync("48");
            await save.ClickAsync();
            await Expect(page.Locator("#limits-outcome")).ToContainTextAsync("Saved.");
            await Expect(page.GetByRole(AriaRole.Img, new() { Name = "CPU:" })).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex(" of 48 vCPU$"));
            Assert.That((await QuotasAsync()).GetProperty("cpu").GetProperty("limit").GetInt64(), Is.EqualTo(48));

            // An invalid limit: the API's problem, and its message on the field.
            await cpu.FillAsync("-5");
            await save.ClickAsync();
            await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("ERR_VALIDATION");
            await Expect(cpu).ToHaveAttributeAsync("aria-invalid", "true");
            await Expect(page.Locator("#limit-cpu-error")).ToHaveTextAsync("must be an integer, -1 for unlimited");
            await Expect(cpu).ToBeFocusedAsync();
            Assert.That((await QuotasAsync()).GetProperty("cpu").GetProperty("limit").GetInt64(), Is.EqualTo(48), "an invalid limit changes nothing");

            // Below use: the API takes it (usage is never reset), the page says the tenant is over it.
            await cpu.FillAsync("48");
            await Field(page, "VMs limit").FillAsync("0");
            await save.ClickAsync();
            var vms = (await QuotasAsync()).GetProperty("vmCount").GetProperty("used").GetInt64();
            Assert.That(vms, Is.GreaterThanOrEqualTo(1));
            await Expect(page.Locator("#quota-over")).ToContainTextAsync($"VMs: {vms} used + 0 held, limit 0");
            Assert.That((await QuotasAsync()).GetProperty("vmCount").GetProperty("limit").GetInt64(), Is.EqualTo(0));

            await page.GetByRole(AriaRole.Button, new() { Name = "Recount usage" }).ClickAsync();
            await Expect(page.Locator("#recount-report")).ToContainTextAsync("No drift");

            // The tenants list sums it up: the VM count is over its limit.
            var list = await page.Context.NewPageAsync();
            await list.GotoAsync("/console/#/tenants");
            var row = list.GetByRole(AriaRole.Row).Filter(new() { Has = list.GetByRole(AriaRole.Link, new() { Name = Tenant, Exact = true }) });
            await Expect(row.Locator("td.over")).ToContainTextAsync($"{vms} / 0 (over the limit)");
            await Expect(row).ToContainTextAsync("/ 48 vCPU");
        }
        finally
        {
            using var _ = await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{Tenant}/quotas", new { cpu = seededCpu, vmCount = seeded });
        }
    }

    [Test]
    public async Task A_tenant_user_sees_the_quota_of_their_tenant_and_cannot_reach_the_agents()
    {
        using var created = await Client.PostAsJsonAsync("/api/v1/admin/users",
            new { username = "console-reader", password = "console-reader-password-1", tenantId = Tenant, roles = new[] { "tenant-user-r" } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created).Or.EqualTo(HttpStatusCode.OK), await created.Content.ReadAsStringAsync());

        var page = await SignInAsync("console-reader", "console-reader-password-1");
        var nav = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" });
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Agents" })).ToBeHiddenAsync();
        await nav.GetByRole(AriaRole.Link, new() { Name = "Quota" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Quota of {Tenant}" })).ToBeVisibleAsync();
        foreach (var bar in new[] { "CPU:", "Memory:", "Storage:", "VMs:" })
            await Expect(page.GetByRole(AriaRole.Img, new() { Name = bar })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save limits" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Recount usage" })).ToHaveCountAsync(0);

        // Another tab of the same session (the first one keeps the quota page for its screenshot).
        var other = await page.Context.NewPageAsync();
        await other.GotoAsync("/console/#/agents");
        await Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Not found" })).ToBeVisibleAsync();
        await Expect(other.GetByRole(AriaRole.Region)).ToHaveCountAsync(0);
        var status = await other.EvaluateAsync<int>("async () => (await fetch('/api/v1/admin/agents', { headers: { 'X-OpenHvx-Console': '1' } })).status");
        Assert.That(status, Is.AnyOf(401, 403), "the tenant session gets no admin answer either");

        // A read-only role may look at the create form but not submit it.
        await other.GotoAsync("/console/#/create");
        await Expect(other.GetByText("Your role can read only")).ToBeVisibleAsync();
        await Expect(other.GetByRole(AriaRole.Button, new() { Name = "Create the VM" })).ToBeDisabledAsync();
    }

    [Test]
    public async Task A_tenant_user_with_write_access_creates_a_vm_in_their_own_tenant_without_a_tenant_picker()
    {
        using var created = await Client.PostAsJsonAsync("/api/v1/admin/users",
            new { username = "console-writer", password = "console-writer-password-1", tenantId = Tenant, roles = new[] { "tenant-user-rw" } });
        Assert.That(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());

        var page = await SignInAsync("console-writer", "console-writer-password-1");
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Create a VM" }).ClickAsync();
        await Expect(Field(page, "Name (required)")).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Tenant")).ToHaveCountAsync(0);
        await Expect(Field(page, "Image").Locator("option")).ToHaveCountAsync(4); // the default and the catalog's 3 images
        await Field(page, "Name (required)").FillAsync("tenant-made-01");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the VM" }).ClickAsync();
        await Expect(page.Locator("#task-status")).ToHaveTextAsync("SUCCESS", new() { Timeout = 90_000 });

        var resources = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{Tenant}/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("name").GetString()), Does.Contain("tenant-made-01"));
    }
}
