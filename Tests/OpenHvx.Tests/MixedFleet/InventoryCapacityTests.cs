using System.Text.Json;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>The capacity of an agent whose heartbeat has none, from its canonical inventory.</summary>
[TestFixture]
[Category("Unit")]
public sealed class InventoryCapacityTests
{
    private static JsonElement FullInventory() => JsonDocument.Parse(OriginalFixtures.Body("agent-inventory-full")).RootElement.GetProperty("inventory").Clone();

    [Test]
    public void The_original_agents_inventory_gives_its_logical_processors_memory_and_vm_datastores_less_what_its_vms_are_given()
    {
        var offer = InventoryCapacity.From(FullInventory(), new OriginalAgentOptions { CpuOvercommit = 2, ReservedMemoryMB = 4096 })!;

        Assert.That(offer.Capacity.Cpu, Is.EqualTo(40), "20 threads x 2");
        Assert.That(offer.Capacity.MemoryMB, Is.EqualTo(131072 - 4096));
        Assert.That(offer.Capacity.StorageMB, Is.EqualTo(1000203087872 / (1024 * 1024)));
        Assert.That(offer.Free.Cpu, Is.EqualTo(40 - 2), "web01 has 2 vCPUs");
        Assert.That(offer.Free.MemoryMB, Is.EqualTo(131072 - 4096 - 2048));
        Assert.That(offer.Free.StorageMB, Is.EqualTo(734003200000 / (1024 * 1024)));
        Assert.That(offer.VmCount, Is.EqualTo(1));
        Assert.That(offer.CollectedAt, Is.EqualTo(DateTimeOffset.Parse("2025-12-23T19:59:58.1234567Z")));
    }

    [TestCase("""{"vms":[]}""")]
    [TestCase("""{"host":{"cpu":{"cores":null},"memoryMb":1024}}""")]
    [TestCase("""{"host":{"cpu":{"threads":8},"memoryMb":"lots"}}""")]
    [TestCase("""[]""")]
    public void An_inventory_that_does_not_say_the_hosts_processors_and_memory_gives_no_capacity(string inventory)
    {
        Assert.That(InventoryCapacity.From(JsonDocument.Parse(inventory).RootElement, new OriginalAgentOptions()), Is.Null);
    }

    [Test]
    public void Cores_count_when_threads_are_not_given_and_more_vcpus_than_offered_leave_nothing_free()
    {
        var inventory = JsonDocument.Parse("""{"host":{"cpu":{"cores":2},"memoryMb":4096},"vms":[{"id":"a","cpu":{"vcpus":16},"memoryMb":8192}]}""").RootElement;

        var offer = InventoryCapacity.From(inventory, new OriginalAgentOptions())!;

        Assert.That(offer.Capacity.Cpu, Is.EqualTo(8));
        Assert.That(offer.Free.Cpu, Is.Zero);
        Assert.That(offer.Free.MemoryMB, Is.Zero);
        Assert.That(offer.Capacity.StorageMB, Is.Zero, "no datastore listed");
    }

    [Test]
    public void Huge_numbers_from_an_agent_never_wrap_round_into_capacity_or_free_space()
    {
        var inventory = JsonDocument.Parse("""
            {"host":{"cpu":{"threads":4e18},"memoryMb":4e18},
             "datastores":[{"sizeBytes":4e18,"freeBytes":4e18},{"sizeBytes":4e18,"freeBytes":4e18},{"sizeBytes":4e18,"freeBytes":4e18}],
             "vms":[{"cpu":{"vcpus":4e18},"memoryMb":4e18},{"cpu":{"vcpus":4e18},"memoryMb":4e18},{"cpu":{"vcpus":4e18},"memoryMb":4e18}]}
            """).RootElement;

        var offer = InventoryCapacity.From(inventory, new OriginalAgentOptions())!;

        Assert.That(offer.Capacity.Cpu, Is.Positive);
        Assert.That(offer.Capacity.StorageMB, Is.Positive);
        Assert.That(offer.Free.Cpu, Is.InRange(0, offer.Capacity.Cpu));
        Assert.That(offer.Free.MemoryMB, Is.InRange(0, offer.Capacity.MemoryMB));
        Assert.That(offer.Free.StorageMB, Is.InRange(0, offer.Capacity.StorageMB));
    }
}
