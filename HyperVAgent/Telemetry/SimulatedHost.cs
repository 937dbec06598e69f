using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>Writes the simulated host's configuration and creates its image files (simulated backend only).</summary>
public sealed class SimulatedHost(PowerShellRunner runner, IOptions<AgentOptions> options, ILogger<SimulatedHost> logger)
{
    public string ConfigPath => Path.Combine(options.Value.SimulationRoot, "config.json");
    public string ImagesPath => Path.Combine(options.Value.FullDataPath, "images");

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        var agent = options.Value;
        Directory.CreateDirectory(ImagesPath);
        if (agent.Backend != AgentBackend.Simulated)
            return;
        WriteConfig();
        foreach (var (file, sizeGB) in agent.Simulated.Images)
        {
            var path = Path.Combine(ImagesPath, Path.GetFileName(file));
            if (File.Exists(path))
                continue;
            var outcome = await runner.RunAsync("New-VHD",
                [new("Path", path), new("SizeBytes", sizeGB * (1L << 30)), new("Dynamic", true)], TimeSpan.FromSeconds(30), cancellationToken);
            if (!outcome.Ok)
                logger.LogWarning("Could not create simulated image {File}: {Message}", file, outcome.Error?.Message);
        }
    }

    /// <summary>(Re)writes config.json; the module reads it on every cmdlet call, so changes apply at once.</summary>
    public void WriteConfig()
    {
        var sim = options.Value.Simulated;
        Directory.CreateDirectory(options.Value.SimulationRoot);
        var config = new
        {
            host = new { name = sim.HostName, logicalProcessors = sim.LogicalProcessors, memoryMB = sim.MemoryMB, storageMB = sim.StorageMB },
            switches = sim.Switches,
            latencyMs = sim.LatencyMs,
            faults = sim.Faults.ToDictionary(f => f.Key, f => new { message = f.Value.Message, rate = f.Value.Rate, errorId = f.Value.ErrorId, times = f.Value.Times }),
        };
        var temp = $"{ConfigPath}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temp, ConfigPath, overwrite: true);
    }
}
