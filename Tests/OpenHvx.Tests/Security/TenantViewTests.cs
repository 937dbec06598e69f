using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// What a tenant reads is built from allow-lists: for every action its task shows the tenant's own request and VM, never
/// the agent, the host's name or paths, the placement, the host's error messages, or other tenants; host-level actions
/// are for admins. Each check has its admin counterpart, so the hidden facts are known to exist.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
public sealed class TenantViewTests : DevHostFixture
{
    private const string Tenant = "viewer";
    private const string HostFaultMessage = "the disk /srv/hyperv/devhost-agent-1/vms/locked.vhdx is locked by host hv-node-7";
    private HttpClient _tenant = null!;

    // Pausing a VM fails on this host, with a message that names host paths.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Agent:Simulated:Faults:Suspend-VM:Message"] = HostFaultMessage,
        ["Agent:Simulated:Faults:Suspend-VM:ErrorId"] = "ERR_HOST_FAULT",
    };

    private static readonly HashSet<string> TaskFields =
    [
        "taskId", "tenantId", "action", "target", "data", "status", "state", "timeline", "quota", "result", "error", "lateSuccess",
        "createdAt", "updatedAt", "deadlineAt", "startedAt", "finishedAt", "retryOf", "retriedBy",
    ];

    [OneTimeSetUp]
    public async Task CreateTheTenantAsync()
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = Tenant })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        _tenant = await Tokens.TenantClientAsync(Client, DevHost.Url, "viewer-rw", Tenant, "tenant-user-rw");
    }

    [OneTimeTearDown]
    public void DisposeTenant() => _tenant?.Dispose();

    private async Task<(JsonElement Tenant, string TenantText, string AdminText)> RunAsync(object request, string expect = "SUCCESS")
    {
        var accepted = await _tenant.PostAsJsonAsync("/api/v1/tenant/tasks", request);
        var acceptedText = await accepted.Content.ReadAsStringAsync();
        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), acceptedText);
        Assert.That(JsonDocument.Parse(acceptedText).RootElement.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "taskId", "status", "state", "statusUrl" }));
        var task = await Eventually.Get(() => _tenant.GetFromJsonAsync<JsonElement>(accepted.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(90), "the task finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo(expect), task.ToString());
        var taskId = task.GetProperty("taskId").GetString();
        var tenantText = await _tenant.GetStringAsync($"/api/v1/tenant/tasks/{taskId}");
        var adminText = await Client.GetStringAsync($"/api/v1/admin/tasks/{taskId}");
        AssertTenantSafe(tenantText);
        var listed = await _tenant.GetStringAsync("/api/v1/tenant/tasks?limit=500");
        AssertTenantSafe(listed);
        return (JsonDocument.Parse(tenantText).RootElement.Clone(), tenantText, adminText);
    }

    /// <summary>Only the allow-listed fields, and no word of the host.</summary>
    private void AssertTenantSafe(string text)
    {
        var root = JsonDocument.Parse(text).RootElement;
        foreach (var task in root.TryGetProperty("items", out var items) ? items.EnumerateArray() : new[] { root }.AsEnumerable())
            Assert.That(task.EnumerateObject().Select(p => p.Name), Is.SubsetOf(TaskFields), text);
        AssertNoWordOfTheHost(text);
    }

    private void AssertNoWordOfTheHost(string text)
    {
        Assert.That(text, Does.Not.Contain(TestDevHost.AgentId).And.Not.Contain(DevHost.AgentData).And.Not.Contain("\"hostName\"")
            .And.Not.Contain($"\"{Tenant}.").And.Not.Contain("placement").And.Not.Contain("candidates").And.Not.Contain(".vhdx")
            .And.Not.Contain("hv-node-7").And.Not.Contain("/srv/"), text);
    }

    [Test]
    public async Task Each_vm_action_shows_the_tenant_its_own_vm_and_nothing_of_the_host()
    {
        var (created, _, createdAdmin) = await RunAsync(new { action = "vm.create", data = new { name = "web1", cpu = 1, ram = "1GB" } });
        var vm = created.GetProperty("result").GetProperty("vm");
        Assert.That(vm.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "guid", "name", "cpu", "memoryMB", "storageGB", "generation", "state" }));
        Assert.That(vm.GetProperty("name").GetString(), Is.EqualTo("web1"));
        Assert.That(created.GetProperty("data").TryGetProperty("imageFile", out _), Is.False, "the image's file on the hosts is not shown");
        Assert.That(created.GetProperty("data").GetProperty("imageId").GetString(), Is.Not.Empty);
        Assert.That(createdAdmin, Does.Contain(TestDevHost.AgentId).And.Contain("\"hostName\"").And.Contain("\"path\"").And.Contain("imageFile"),
            "the admin sees where and how it was built");
        var vmId = vm.GetProperty("guid").GetString()!;
        var target = new { kind = "vm", refId = vmId };

        var (edited, _, editedAdmin) = await RunAsync(new { action = "vm.edit", target, data = new { name = "web2" } });
        Assert.That(edited.GetProperty("result").GetProperty("vm").GetProperty("name").GetString(), Is.EqualTo("web2"));
        Assert.That(editedAdmin, Does.Contain($"\"{Tenant}.web2\""), "the admin sees the host's name");

        var (powered, _, _) = await RunAsync(new { action = "vm.power", target, data = new { state = "stop", force = true } });
        Assert.That(powered.GetProperty("result").GetProperty("vm").GetProperty("state").GetString(), Is.EqualTo("Off"));

        var (deleted, _, deletedAdmin) = await RunAsync(new { action = "vm.delete", target, data = new { deleteDisks = false } });
        Assert.That(deleted.GetProperty("result").GetProperty("vm").GetProperty("deleted").GetBoolean(), Is.True);
        Assert.That(deletedAdmin, Does.Contain("trashPath"), "the admin sees where the disks went");

        var resources = await _tenant.GetStringAsync("/api/v1/tenant/resources");
        AssertNoWordOfTheHost(resources);
        Assert.That(JsonDocument.Parse(resources).RootElement.EnumerateArray().SelectMany(r => r.EnumerateObject().Select(p => p.Name)).Distinct(),
            Is.SubsetOf(new[] { "resourceId", "tenantId", "kind", "name", "taskId", "createdAt", "charge", "imageId", "state", "goneAt" }));
    }

    [Test]
    public async Task A_host_failure_shows_the_tenant_its_code_and_a_fixed_message_and_the_admin_the_hosts_words()
    {
        var (created, _, _) = await RunAsync(new { action = "vm.create", data = new { name = "paused1", cpu = 1, ram = "1GB" } });
        var target = new { kind = "vm", refId = created.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString() };

        var (failed, _, adminText) = await RunAsync(new { action = "vm.power", target, data = new { state = "pause" } }, expect: "FAILED");

        var error = failed.GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("ERR_HOST_FAULT"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("The host could not complete the task."));
        Assert.That(error.TryGetProperty("details", out var details) && details.ValueKind != JsonValueKind.Null, Is.False);
        Assert.That(adminText, Does.Contain("hv-node-7"), "the admin reads the host's message");
    }

    [Test]
    public async Task A_tenant_cannot_submit_a_host_level_action_and_an_admin_can()
    {
        var refused = await _tenant.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "inventory.refresh", data = new { } });
        var text = await refused.Content.ReadAsStringAsync();
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo("ERR_FORBIDDEN"));
        var unknown = await (await _tenant.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "nope", data = new { } })).Content.ReadAsStringAsync();
        Assert.That(unknown, Does.Not.Contain("inventory.refresh"), "tenants are not offered it");

        var byAdmin = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = Tenant, action = "inventory.refresh", target = new { kind = "host" }, data = new { } });
        Assert.That(byAdmin.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await byAdmin.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(byAdmin.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(60), "the inventory finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        var asTenant = await _tenant.GetStringAsync($"/api/v1/tenant/tasks/{task.GetProperty("taskId").GetString()}");
        AssertTenantSafe(asTenant);
        Assert.That(JsonDocument.Parse(asTenant).RootElement.GetProperty("result").ValueKind, Is.EqualTo(JsonValueKind.Null), "the host's inventory is the admin's");
    }

    [Test]
    public async Task A_tenant_reads_the_catalog_without_the_files_on_the_hosts()
    {
        var images = await _tenant.GetFromJsonAsync<JsonElement>("/api/v1/tenant/images");
        Assert.That(images.GetArrayLength(), Is.GreaterThan(0));
        Assert.That(images.EnumerateArray().Any(i => i.TryGetProperty("file", out _)), Is.False);
        var asAdmin = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/images");
        Assert.That(asAdmin.EnumerateArray().All(i => i.TryGetProperty("file", out _)), Is.True);
    }

    [TestCase("vm.power", "host")]
    [TestCase("vm.delete", "disk")]
    [TestCase("inventory.refresh", "vm")]
    public async Task A_target_kind_the_action_does_not_take_is_refused(string action, string kind)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new
        {
            tenantId = Tenant, action, target = new { kind, refId = action == "inventory.refresh" ? null : Guid.NewGuid().ToString() },
            data = action == "vm.power" ? (object)new { state = "stop" } : new { },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty("target.kind", out _), Is.True, text);
    }
}
