using System.Text.Json;
using OpenHvx.Testing;

namespace OpenHvx.Tests.Compose;

/// <summary>README, Configuration: every service runs with workstation GC, no background GC thread and no thread-pool spinning.</summary>
[TestFixture]
[Category("Unit")]
public sealed class ServiceRuntimeTests
{
    [TestCase("Gateway")]
    [TestCase("Orchestrator")]
    [TestCase("HyperVAgent")]
    [TestCase("DevHost")]
    public void A_service_runs_for_a_small_shared_host(string project)
    {
        var runtimeConfig = Path.ChangeExtension(ServiceProcess.AssemblyOf(project), ".runtimeconfig.json");
        var settings = JsonDocument.Parse(File.ReadAllText(runtimeConfig)).RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.That(settings.GetProperty("System.GC.Server").GetBoolean(), Is.False);
        Assert.That(settings.GetProperty("System.GC.Concurrent").GetBoolean(), Is.False);
        Assert.That(settings.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32(), Is.Zero);
    }
}
