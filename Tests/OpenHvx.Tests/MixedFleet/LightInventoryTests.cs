using System.Text.Json;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>The original agent's light inventory merged into the full one held.</summary>
[TestFixture]
[Category("Unit")]
public sealed class LightInventoryTests
{
    private static JsonElement InventoryOf(string fixture) => JsonDocument.Parse(OriginalFixtures.Body(fixture)).RootElement.GetProperty("inventory").Clone();

    [Test]
    public void A_light_inventory_is_known_by_its_source_or_its_non_destructive_merge_mode_and_not_by_raw_alone()
    {
        Assert.That(LightInventory.IsLight("inventory.refresh.light", "raw"), Is.True);
        Assert.That(LightInventory.IsLight(null, "patch-nondestructive"), Is.True);
        Assert.That(LightInventory.IsLight(null, "raw"), Is.False);
        Assert.That(LightInventory.IsLight(null, null), Is.False);
    }

    [Test]
    public void The_vms_it_lists_are_updated_and_everything_else_of_the_full_inventory_is_kept()
    {
        var merged = LightInventory.Merge(InventoryOf("agent-inventory-full"), InventoryOf("agent-inventory-light"));

        Assert.That(merged.GetProperty("host").GetProperty("hostname").GetString(), Is.EqualTo("HV-NODE-01"));
        Assert.That(merged.GetProperty("networks").GetArrayLength(), Is.EqualTo(1));
        Assert.That(merged.GetProperty("collectedAt").GetString(), Is.EqualTo("2025-12-23T19:59:58.1234567Z"), "the full list's time, which reconciliation goes by");
        var vm = merged.GetProperty("vms").EnumerateArray().Single();
        Assert.That(vm.GetProperty("uptimeSec").GetInt32(), Is.EqualTo(5));
        Assert.That(vm.GetProperty("cpu").GetProperty("vcpus").GetInt32(), Is.EqualTo(2), "its null vcpus changes nothing");
        Assert.That(vm.GetProperty("disks").GetArrayLength(), Is.EqualTo(1));
    }

    [Test]
    public void A_vm_it_lists_that_the_full_inventory_does_not_is_added_and_one_it_does_not_list_stays()
    {
        var full = JsonDocument.Parse("""{"host":{"hostname":"h"},"vms":[{"id":"AAAAAAAA-0000-0000-0000-000000000001","name":"old","powerState":"Off"}]}""").RootElement;
        var light = JsonDocument.Parse("""{"vms":[{"id":"aaaaaaaa-0000-0000-0000-000000000001","powerState":"Running"},{"id":"b","name":"new","powerState":"Running"}]}""").RootElement;

        var merged = LightInventory.Merge(full, light).GetProperty("vms").EnumerateArray().ToList();

        Assert.That(merged, Has.Count.EqualTo(2));
        Assert.That(merged[0].GetProperty("name").GetString(), Is.EqualTo("old"));
        Assert.That(merged[0].GetProperty("powerState").GetString(), Is.EqualTo("Running"), "the same VM whatever the case of its id");
        Assert.That(merged[1].GetProperty("name").GetString(), Is.EqualTo("new"));
    }

    [Test]
    public void Without_a_full_inventory_held_the_light_one_is_kept_as_it_is()
    {
        var merged = LightInventory.Merge(null, InventoryOf("agent-inventory-light"));

        Assert.That(merged.GetProperty("vms").GetArrayLength(), Is.EqualTo(1));
        Assert.That(merged.GetProperty("schemaVersion").GetString(), Is.EqualTo("1.0.0"));
    }

    [Test]
    public void The_memory_a_light_inventory_sees_assigned_is_kept_apart_from_the_size_the_vm_was_given()
    {
        // An Off VM: the light inventory's memoryMb is what Hyper-V assigns it now, 0.
        var light = JsonDocument.Parse("""{"collectedAt":"2025-12-23T20:00:06Z","vms":[{"id":"6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5","powerState":"Off","memoryMb":0,"memoryAssignedMB":0},{"id":"new","memoryMb":512}]}""").RootElement;

        var vms = LightInventory.Merge(InventoryOf("agent-inventory-full"), light).GetProperty("vms").EnumerateArray().ToList();

        Assert.That(vms[0].GetProperty("memoryMb").GetInt32(), Is.EqualTo(2048));
        Assert.That(vms[0].GetProperty("memoryAssignedMB").GetInt32(), Is.Zero);
        Assert.That(vms[0].GetProperty("powerState").GetString(), Is.EqualTo("Off"));
        Assert.That(vms[1].TryGetProperty("memoryMb", out _), Is.False, "a new VM's size is not known yet");
        Assert.That(vms[1].GetProperty("memoryAssignedMB").GetInt32(), Is.EqualTo(512));
    }

    [Test]
    public void A_light_inventory_collected_before_the_full_one_held_changes_nothing()
    {
        var light = JsonDocument.Parse("""{"collectedAt":"2025-12-23T19:00:00Z","vms":[{"id":"6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5","powerState":"Off"},{"id":"deleted-since"}]}""").RootElement;

        var merged = LightInventory.Merge(InventoryOf("agent-inventory-full"), light);

        Assert.That(merged.GetRawText(), Is.EqualTo(InventoryOf("agent-inventory-full").GetRawText()));
    }
}
