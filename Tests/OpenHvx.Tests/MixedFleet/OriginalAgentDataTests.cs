using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.MixedFleet;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>A task's data in the words of the original agent's scripts (OpenHVX/openhvx-agent@a65c895, src/powershell/actions).</summary>
[TestFixture]
[Category("Unit")]
public sealed class OriginalAgentDataTests
{
    private const string VmId = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";
    private static readonly TaskTarget Vm = new("vm", VmId, "agent-1");
    private static readonly OriginalAgentOptions WithImages = new() { ImagesPath = @"D:\DATA\openhvx\IMAGES\" };

    private static JsonElement Translate(string action, object data, TaskTarget? target = null, string? vmName = null, OriginalAgentOptions? options = null)
        => OriginalAgentData.Translate(action, JsonSerializer.SerializeToElement(data), target, vmName, options ?? WithImages);

    [TestCase("start", "start")]
    [TestCase("stop", "shutdown")]
    [TestCase("turnoff", "off")]
    [TestCase("restart", "restart")]
    [TestCase("reset", "restart")]
    [TestCase("pause", "pause")]
    [TestCase("resume", "resume")]
    [TestCase("save", "save")]
    public void A_power_state_is_sent_in_the_original_agents_words(string ours, string theirs)
    {
        var data = Translate(ActionNames.VmPower, new { state = ours, force = false }, Vm);

        Assert.That(data.GetProperty("state").GetString(), Is.EqualTo(theirs));
    }

    [Test]
    public void The_vm_is_named_as_guid_id_and_target_ref_id_which_the_original_scripts_read_in_that_order()
    {
        var data = Translate(ActionNames.VmDelete, new { forceStop = true, deleteDisks = false }, Vm);

        Assert.That(data.GetProperty("guid").GetString(), Is.EqualTo(VmId));
        Assert.That(data.GetProperty("id").GetString(), Is.EqualTo(VmId));
        Assert.That(data.GetProperty("target").GetProperty("refId").GetString(), Is.EqualTo(VmId));
        Assert.That(data.GetProperty("target").GetProperty("kind").GetString(), Is.EqualTo("vm"));
        Assert.That(data.GetProperty("forceStop").GetBoolean(), Is.True, "our members stay");
    }

    [Test]
    public void A_vm_create_gets_the_base_disks_full_path_on_the_host_and_the_ssh_keys_under_their_original_name()
    {
        var data = Translate(ActionNames.VmCreate, new
        {
            name = "web01", cpu = 2, ram = "2048MB", memoryMB = 2048, imageId = "ubuntu-24.04.1", imageFile = "ubuntu-24.04.vhdx",
            cloudInit = new { hostname = "web01", user = "ubuntu", sshAuthorizedKeys = new[] { "ssh-ed25519 AAAA user@example" } },
        });

        Assert.That(data.GetProperty("imagePath").GetString(), Is.EqualTo(@"D:\DATA\openhvx\IMAGES\ubuntu-24.04.vhdx"));
        Assert.That(data.GetProperty("ram").GetString(), Is.EqualTo("2048MB"), "vm.create.ps1 needs ram and reads 2048MB");
        Assert.That(data.GetProperty("cloudInit").GetProperty("ssh_authorized_keys")[0].GetString(), Is.EqualTo("ssh-ed25519 AAAA user@example"));
        Assert.That(data.GetProperty("cloudInit").GetProperty("user").GetString(), Is.EqualTo("ubuntu"));
    }

    [Test]
    public void Without_an_images_folder_a_vm_create_has_no_image_path()
    {
        var data = Translate(ActionNames.VmCreate, new { name = "web01", imageFile = "ubuntu.vhdx" }, options: new OriginalAgentOptions());

        Assert.That(data.TryGetProperty("imagePath", out _), Is.False);
    }

    [Test]
    public void A_vm_edit_names_the_vm_it_changes_and_its_new_size_as_the_original_script_reads_them()
    {
        var data = Translate(ActionNames.VmEdit, new { cpu = 4, memoryMB = 4096, newName = "web02", dynamicMemory = new { enabled = true, min = 1024, max = 8192 } },
            Vm, vmName: "web01");

        Assert.That(data.GetProperty("name").GetString(), Is.EqualTo("web01"), "vm.edit.ps1 finds the VM by its name");
        Assert.That(data.GetProperty("new_name").GetString(), Is.EqualTo("web02"));
        Assert.That(data.GetProperty("ram").GetString(), Is.EqualTo("4096MB"));
        Assert.That(data.GetProperty("cpu").GetInt32(), Is.EqualTo(4));
        Assert.That(data.GetProperty("dynamic_memory").GetBoolean(), Is.True);
        Assert.That(data.GetProperty("min_ram").GetString(), Is.EqualTo("1024MB"));
        Assert.That(data.GetProperty("max_ram").GetString(), Is.EqualTo("8192MB"));
    }
}
