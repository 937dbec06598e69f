using OpenHvx.Contracts;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>The capability names of both generations (the original controller's requiredCapability, backend@e745f57 tasksController.ts).</summary>
[TestFixture]
[Category("Unit")]
public sealed class ActionCapabilitiesTests
{
    [TestCase("inventory.refresh", "inventory")]
    [TestCase("vm.edit", "vm")]
    [TestCase("vm.power", "vm.power")]
    [TestCase("vm.create", "vm.create")]
    [TestCase("vm.delete", "vm.delete")]
    [TestCase("console.serial.open", "console")]
    [TestCase("net.tunnel.open", "console")]
    [TestCase("disk.create", "storage")]
    [TestCase("echo", "echo")]
    [TestCase("switch.create", "switch")]
    public void The_original_controller_requires_this_capability_for_an_action(string action, string capability)
    {
        Assert.That(ActionCapabilities.OriginalName(action), Is.EqualTo(capability));
    }

    [Test]
    public void An_agent_offers_an_action_by_its_own_name_or_by_the_original_generations()
    {
        IReadOnlyCollection<string> original = ["inventory", "vm.power", "vm.create", "vm.delete", "echo", "console", "vm"];

        Assert.That(ActionCapabilities.Offers(original, ActionNames.InventoryRefresh), Is.True);
        Assert.That(ActionCapabilities.Offers(original, ActionNames.VmEdit), Is.True);
        Assert.That(ActionCapabilities.Offers(["inventory", "vm.power"], ActionNames.VmEdit), Is.False, "the original default capabilities");
        Assert.That(ActionCapabilities.Offers(["vm"], ActionNames.VmPower), Is.False, "vm.power is named whole by the original controller");
        Assert.That(ActionCapabilities.Offers([ActionNames.VmEdit], ActionNames.VmEdit), Is.True);
    }

    [Test]
    public void What_an_agent_advertises_holds_both_names_of_each_action_it_runs_once_in_order()
    {
        var advertised = ActionCapabilities.Advertised([ActionNames.VmPower, ActionNames.InventoryRefresh, ActionNames.VmEdit, ActionNames.VmCreate]);

        Assert.That(advertised, Is.EqualTo(new[] { "inventory", "inventory.refresh", "vm", "vm.create", "vm.edit", "vm.power" }));
    }
}
