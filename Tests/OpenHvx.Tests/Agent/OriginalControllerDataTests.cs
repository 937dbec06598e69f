using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>Tasks of the original OpenHVX controller (its fixtures, byte for byte) read in our agent's terms.</summary>
[TestFixture]
public sealed class OriginalControllerDataTests
{
    private const string VmId = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";

    private static AgentTask Original(string action, object data)
        => new(Guid.NewGuid(), "tenant-acme", "agent-1", action, JsonSerializer.SerializeToElement(data), "");

    private static string? State(AgentTask task) => task.Data.GetProperty("state").GetString();

    [Test]
    public void The_original_controllers_vm_power_addresses_the_vm_its_data_names()
    {
        var task = OriginalControllerData.Normalize(OriginalFixtures.Task("controller-task-vm.power"));

        Assert.That(task.Target, Is.EqualTo(new TaskTarget("vm", VmId, "HOST-OPENHVX-HYPERV-001")));
        Assert.That(State(task), Is.EqualTo("start"));
        Assert.That(OriginalControllerData.Refusal(task), Is.Null);
    }

    [Test]
    public void The_original_controllers_vm_delete_addresses_the_vm_and_keeps_force_stop()
    {
        var task = OriginalControllerData.Normalize(OriginalFixtures.Task("controller-task-vm.delete"));

        Assert.That(task.Target?.RefId, Is.EqualTo(VmId));
        Assert.That(task.Data.GetProperty("forceStop").GetBoolean(), Is.True);
    }

    [Test]
    public void The_vm_is_taken_from_guid_then_id_then_target_ref_id_then_a_target_string()
    {
        string? RefId(object data) => OriginalControllerData.Normalize(Original(ActionNames.VmPower, data)).Target?.RefId;

        Assert.Multiple(() =>
        {
            Assert.That(RefId(new { state = "start", guid = "g", id = "i", target = new { kind = "vm", refId = "r" } }), Is.EqualTo("g"));
            Assert.That(RefId(new { state = "start", id = "i", target = new { kind = "vm", refId = "r" } }), Is.EqualTo("i"));
            Assert.That(RefId(new { state = "start", target = new { kind = "vm", refId = "r" } }), Is.EqualTo("r"));
            Assert.That(RefId(new { state = "start", target = "t" }), Is.EqualTo("t"));
            Assert.That(RefId(new { state = "start", target = new { kind = "vm" } }), Is.Null);
            Assert.That(RefId(new { state = "start", id = 42, target = new { kind = "vm", refId = new { } } }), Is.Null);
        });
    }

    [Test]
    public void A_guid_or_id_naming_another_vm_than_the_controllers_target_is_refused_and_the_same_vm_in_other_words_is_not()
    {
        AgentError? RefusalOf(object data) => OriginalControllerData.Refusal(OriginalControllerData.Normalize(Original(ActionNames.VmPower, data)));

        Assert.That(RefusalOf(new { state = "start", guid = Guid.NewGuid().ToString(), target = new { kind = "vm", refId = VmId } })?.Code,
            Is.EqualTo("ERR_INVALID_ARGUMENT"));
        Assert.That(RefusalOf(new { state = "start", id = "other", target = new { kind = "vm", refId = VmId } })?.Message,
            Is.EqualTo(OriginalControllerData.AmbiguousVm));
        Assert.That(RefusalOf(new { state = "start", guid = VmId.ToUpperInvariant(), id = "{" + VmId + "}", target = new { kind = "vm", refId = VmId } }), Is.Null);
        Assert.That(RefusalOf(new { state = "start", guid = "anything" }), Is.Null, "without a target there is nothing to disagree with");
    }

    [TestCase("on", "start")]
    [TestCase("poweron", "start")]
    [TestCase("start", "start")]
    [TestCase("off", "turnoff")]
    [TestCase("poweroff", "turnoff")]
    [TestCase("shutdown", "stop")]
    [TestCase("stop", "stop")]
    [TestCase("restart", "restart")]
    [TestCase("reboot", "restart")]
    [TestCase("pause", "pause")]
    [TestCase("suspend", "pause")]
    [TestCase("resume", "resume")]
    [TestCase("save", "save")]
    public void The_original_agents_power_states_become_ours(string original, string ours)
    {
        var task = OriginalControllerData.Normalize(Original(ActionNames.VmPower, new { state = original, id = VmId }));

        Assert.That(State(task), Is.EqualTo(ours));
    }

    [Test]
    public void An_older_controllers_op_is_the_state_when_there_is_none()
    {
        Assert.That(State(OriginalControllerData.Normalize(Original(ActionNames.VmPower, new { op = "off", id = VmId }))), Is.EqualTo("turnoff"));
        Assert.That(State(OriginalControllerData.Normalize(Original(ActionNames.VmPower, new { state = "save", op = "off", id = VmId }))), Is.EqualTo("save"));
    }

    [Test]
    public void The_original_controllers_vm_create_is_read_in_our_fields_and_its_iscsi_disk_refused()
    {
        var task = OriginalControllerData.Normalize(OriginalFixtures.Task("controller-task-vm.create"));

        Assert.That(task.Data.GetProperty("memoryMB").GetInt64(), Is.EqualTo(2048), "ram \"2GB\"");
        Assert.That(task.Data.GetProperty("storageGB").GetInt64(), Is.EqualTo(10), "storageMB 10240");
        Assert.That(task.Data.GetProperty("cloudInit").GetProperty("sshAuthorizedKeys").EnumerateArray().Select(k => k.GetString()),
            Is.EqualTo(new[] { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly user@example" }));
        Assert.That(task.Target, Is.Null, "a create names no VM");
        var refusal = OriginalControllerData.Refusal(task);
        Assert.That((refusal?.Code, refusal?.Message), Is.EqualTo(("ERR_INVALID_ARGUMENT", "iSCSI system disks (iqn) are not supported by this agent")));
    }

    [TestCase(@"C:\OpenHVX\images\ubuntu-24.04.vhdx")]
    [TestCase("/var/lib/openhvx/images/ubuntu-24.04.vhdx")]
    [TestCase("ubuntu-24.04.vhdx")]
    public void An_older_controllers_image_path_names_the_image_file(string imagePath)
    {
        var task = OriginalControllerData.Normalize(Original(ActionNames.VmCreate, new { name = "web01", cpu = 2, ram = "512MB", imagePath }));

        Assert.That(task.Data.GetProperty("imageFile").GetString(), Is.EqualTo("ubuntu-24.04.vhdx"));
        Assert.That(task.Data.GetProperty("memoryMB").GetInt64(), Is.EqualTo(512));
        Assert.That(OriginalControllerData.Refusal(task), Is.Null);
    }

    [Test]
    public void A_task_of_our_own_orchestrator_is_left_as_it_is()
    {
        var create = new AgentTask(Guid.NewGuid(), "test1", "agent-1", ActionNames.VmCreate, JsonSerializer.SerializeToElement(new
        {
            name = "web1", cpu = 2, ram = "4096MB", memoryMB = 4096, imageId = "img", imageFile = "img.vhdx", generation = 2, storageGB = 20,
            cloudInit = new { hostname = "web1", user = "openhvx", sshAuthorizedKeys = new[] { "ssh-ed25519 AAAA k" } },
        }), "c", new TaskTarget("vm", null, null), 2, DateTimeOffset.UnixEpoch);
        var power = new AgentTask(Guid.NewGuid(), "test1", "agent-1", ActionNames.VmPower, JsonSerializer.SerializeToElement(new { state = "turnoff", force = true }), "c",
            new TaskTarget("vm", VmId, null));
        var inventory = new AgentTask(Guid.NewGuid(), "test1", "agent-1", ActionNames.InventoryRefresh, JsonSerializer.SerializeToElement(new { }), "c");

        Assert.That(OriginalControllerData.Normalize(create), Is.SameAs(create));
        Assert.That(OriginalControllerData.Normalize(power), Is.SameAs(power));
        Assert.That(OriginalControllerData.Normalize(inventory), Is.SameAs(inventory));
        Assert.That(OriginalControllerData.Refusal(create), Is.Null);
    }

    [Test]
    public void Data_that_is_not_an_object_or_repeats_a_member_is_left_to_the_script()
    {
        var repeated = Original(ActionNames.VmPower, new { }) with { Data = JsonDocument.Parse("""{"state":"on","state":"off","id":"x"}""").RootElement };
        var array = Original(ActionNames.VmPower, new[] { 1 });

        Assert.That(OriginalControllerData.Normalize(repeated), Is.SameAs(repeated));
        Assert.That(OriginalControllerData.Normalize(array), Is.SameAs(array));
    }
}
