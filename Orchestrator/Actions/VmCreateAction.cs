using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Actions;

/// <summary>vm.create: the defaults of design/api.md (its data rules are <see cref="VmCreateData"/>'s).</summary>
public sealed class VmCreateAction : ITaskAction
{
    public const int MaxStorageGB = VmCreateData.MaxStorageGB;

    public string Name => ActionNames.VmCreate;

    /// <summary>The tenant's own request with its defaults; not the image's file name on the hosts.</summary>
    public JsonAllowList TenantData { get; } = JsonAllowList.Of("name", "cpu", "ram", "memoryMB", "imageId", "generation", "storageGB", "switch", "cloudInit");

    /// <summary>The VM as built; not its host name, folder, disk or seed paths.</summary>
    public JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "cpu", "memoryMB", "storageGB", "generation", "state"));

    public string? ClaimedName(JsonElement data) => data.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;

    public async Task<QuotaAmounts> GetRequirementAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var spec = ActionData.Of<VmCreateData>(data);
        var storageGB = spec.StorageGB ?? (await ResolveImageAsync(spec, context.Images, cancellationToken))?.MinStorageGB ?? 0;
        return new QuotaAmounts(spec.Cpu ?? VmCreateData.DefaultCpu, spec.Ram?.MegaBytes ?? VmCreateData.DefaultMemoryMB, storageGB * 1024L, 1);
    }

    public async Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var spec = ActionData.Of<VmCreateData>(data);
        var image = await ResolveImageAsync(spec, context.Images, cancellationToken)
            ?? throw new TaskRejectedException(ErrorCodes.ImageNotFound, spec.ImageId is null ? "The catalog has no default image." : $"Image '{spec.ImageId}' is not in the catalog.");

        var name = spec.Name!;
        var cpu = spec.Cpu ?? VmCreateData.DefaultCpu;
        var memoryMB = spec.Ram?.MegaBytes ?? VmCreateData.DefaultMemoryMB;
        var generation = spec.Generation ?? image.Generation;
        if (generation != image.Generation)
            throw Invalid("data.generation", $"image '{image.ImageId}' is generation {image.Generation}");
        var storageGB = spec.StorageGB ?? image.MinStorageGB;
        if (storageGB < image.MinStorageGB)
            throw Invalid("data.storageGB", $"image '{image.ImageId}' needs at least {image.MinStorageGB} GB");

        // The tenant's cloud-init members as sent (validated; a null member is an absent one), with the defaults added.
        var cloudInit = spec.CloudInit is not null && data.TryGetProperty("cloudInit", out var ci) ? WithoutNulls(JsonNode.Parse(ci.GetRawText())!.AsObject()) : [];
        cloudInit.TryAdd("hostname", name.Length <= 63 && !name.Contains('.') && !name.Contains('_') ? name : Sanitize(name));
        cloudInit.TryAdd("user", CloudInitData.DefaultUser);
        cloudInit.TryAdd("network", new JsonObject { ["mode"] = NetworkData.Dhcp });

        var enriched = new JsonObject
        {
            ["name"] = name,
            ["cpu"] = cpu,
            ["ram"] = $"{memoryMB}MB",
            ["memoryMB"] = memoryMB,
            ["imageId"] = image.ImageId,
            ["imageFile"] = image.File,
            ["generation"] = generation,
            ["storageGB"] = storageGB,
            ["cloudInit"] = cloudInit,
        };
        if (spec.Switch is not null)
            enriched["switch"] = spec.Switch;

        return new Enrichment(JsonSerializer.SerializeToElement(enriched), new QuotaAmounts(cpu, memoryMB, storageGB * 1024L, 1));
    }

    /// <summary>Links the VM the agent built to the tenant, with what it is charged.</summary>
    public async Task OnSucceededAsync(SuccessContext context, CancellationToken cancellationToken)
    {
        var task = context.Task;
        if (!VmResult.TryRead(context.Result.Result, out var vmId, out var vmName))
            throw new InvalidOperationException($"Task {task.CorrelationId}: agent {context.Result.AgentId} reported success without result.vm.guid.");
        var imageId = task.EnrichedData is { ValueKind: JsonValueKind.Object } enriched && enriched.TryGetProperty("imageId", out var image) && image.ValueKind == JsonValueKind.String
            ? image.GetString()
            : null;
        await context.Resources.LinkAsync(new TenantResource(vmId, task.TenantId, "vm", context.Result.AgentId, vmName, task.CorrelationId, context.Late, context.Now,
            task.QuotaDeltas, imageId, AgentChangedAt: context.Result.FinishedAt), cancellationToken);
        task.ResourceId = vmId;
    }

    private static JsonObject WithoutNulls(JsonObject node)
    {
        foreach (var (name, value) in node.ToList())
        {
            if (value is null)
                node.Remove(name);
            else if (value is JsonObject nested)
                WithoutNulls(nested);
        }
        return node;
    }

    private static string Sanitize(string name)
    {
        var chars = name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-').Take(63).ToArray();
        return new string(chars).Trim('-') is { Length: > 0 } s ? s : "vm";
    }

    private static TaskRejectedException Invalid(string field, string message)
        => new(ErrorCodes.Validation, $"{field} {message}", new Dictionary<string, string[]> { [field] = [message] });

    private static Task<Image?> ResolveImageAsync(VmCreateData spec, IImageStore images, CancellationToken cancellationToken)
        => spec.ImageId is { } id ? images.ResolveAsync(id, cancellationToken) : images.GetDefaultAsync(cancellationToken);
}
