using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Actions;

/// <summary>vm.create: the data rules and defaults of design/api.md.</summary>
public sealed partial class VmCreateAction : ITaskAction
{
    public const int DefaultCpu = 2;
    public const long DefaultMemoryMB = 2048;
    public const long MinMemoryMB = 512;
    public const long MaxMemoryMB = 1024 * 1024;
    public const int MaxStorageGB = 64 * 1024;
    public const string DefaultUser = "openhvx";

    private static readonly HashSet<string> Fields = ["name", "cpu", "ram", "imageId", "generation", "storageGB", "switch", "cloudInit"];
    private static readonly HashSet<string> CloudInitFields = ["hostname", "user", "sshAuthorizedKeys", "packages", "runcmd", "network"];
    private static readonly HashSet<string> NetworkFields = ["mode", "address", "gateway", "nameservers"];

    [GeneratedRegex(@"\A[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\z")]
    private static partial Regex HostnamePattern();

    [GeneratedRegex(@"\A[a-z_][a-z0-9_-]{0,31}\z")]
    private static partial Regex UserPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9.+_:~-]{0,127}\z")]
    private static partial Regex PackagePattern();

    [GeneratedRegex(@"\A(?<n>[0-9]+) ?(?<u>MB|GB|TB)\z", RegexOptions.IgnoreCase)]
    private static partial Regex RamPattern();

    public string Name => ActionNames.VmCreate;

    /// <summary>The tenant's own request with its defaults; not the image's file name on the hosts.</summary>
    public JsonAllowList TenantData { get; } = JsonAllowList.Of("name", "cpu", "ram", "memoryMB", "imageId", "generation", "storageGB", "switch", "cloudInit");

    /// <summary>The VM as built; not its host name, folder, disk or seed paths.</summary>
    public JsonAllowList TenantResult { get; } = JsonAllowList.Nothing.With("vm", JsonAllowList.Of("guid", "name", "cpu", "memoryMB", "storageGB", "generation", "state"));

    public string? ClaimedName(JsonElement data) => data.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;

    public void Validate(JsonElement data, FieldErrors errors)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            errors.Add("data", "must be an object");
            return;
        }
        errors.RejectUnknown(data, Fields, "data.");

        if (!data.TryGetProperty("name", out var name))
            errors.Add("data.name", "is required");
        else if (name.ValueKind != JsonValueKind.String || !Identifiers.IsVmName(name.GetString()))
            errors.Add("data.name", "must match " + Identifiers.VmNameRule);

        if (data.TryGetProperty("cpu", out var cpu) && !(IsInteger(cpu, out var c) && c is >= 1 and <= 64))
            errors.Add("data.cpu", "must be an integer from 1 to 64");

        if (data.TryGetProperty("ram", out var ram))
        {
            var mb = ParseMemoryMB(ram);
            if (mb is null)
                errors.Add("data.ram", "must be like \"2GB\", \"512MB\" or an integer of MB");
            else if (mb is < MinMemoryMB or > MaxMemoryMB)
                errors.Add("data.ram", "must be from 512 MB to 1 TB");
        }

        if (data.TryGetProperty("imageId", out var image) && (image.ValueKind != JsonValueKind.String || !Identifiers.IsCatalogName(image.GetString())))
            errors.Add("data.imageId", "must be a catalog image id or <name>.latest");

        if (data.TryGetProperty("generation", out var generation) && !(IsInteger(generation, out var g) && g is 1 or 2))
            errors.Add("data.generation", "must be 1 or 2");

        if (data.TryGetProperty("storageGB", out var storage) && !(IsInteger(storage, out var s) && s is >= 1 and <= MaxStorageGB))
            errors.Add("data.storageGB", $"must be an integer from 1 to {MaxStorageGB}");

        if (data.TryGetProperty("switch", out var vswitch) && vswitch.ValueKind != JsonValueKind.Null &&
            (vswitch.ValueKind != JsonValueKind.String || !TextRules.IsPrintable(vswitch.GetString(), 100)))
            errors.Add("data.switch", "must be a virtual switch name (1 to 100 printable characters)");

        if (data.TryGetProperty("cloudInit", out var cloudInit))
            ValidateCloudInit(cloudInit, errors);
    }

    private static void ValidateCloudInit(JsonElement cloudInit, FieldErrors errors)
    {
        if (cloudInit.ValueKind != JsonValueKind.Object)
        {
            errors.Add("data.cloudInit", "must be an object");
            return;
        }
        errors.RejectUnknown(cloudInit, CloudInitFields, "data.cloudInit.");
        if (cloudInit.TryGetProperty("hostname", out var hostname) && (hostname.ValueKind != JsonValueKind.String || !HostnamePattern().IsMatch(hostname.GetString()!)))
            errors.Add("data.cloudInit.hostname", "must be a host name (letters, digits, hyphens; at most 63)");
        if (cloudInit.TryGetProperty("user", out var user) && (user.ValueKind != JsonValueKind.String || !UserPattern().IsMatch(user.GetString()!)))
            errors.Add("data.cloudInit.user", "must be a Linux user name");
        ValidateStrings(cloudInit, "sshAuthorizedKeys", 32, value => TextRules.IsPrintable(value, 16384) && (value.StartsWith("ssh-", StringComparison.Ordinal) || value.StartsWith("ecdsa-", StringComparison.Ordinal) || value.StartsWith("sk-", StringComparison.Ordinal)), "must be OpenSSH public keys on one line", errors);
        ValidateStrings(cloudInit, "packages", 200, value => PackagePattern().IsMatch(value), "must be package names", errors);
        ValidateStrings(cloudInit, "runcmd", 100, value => TextRules.IsPrintable(value, 4096, tab: true), "must be commands of at most 4096 printable characters", errors);

        if (!cloudInit.TryGetProperty("network", out var network))
            return;
        if (network.ValueKind != JsonValueKind.Object)
        {
            errors.Add("data.cloudInit.network", "must be an object");
            return;
        }
        errors.RejectUnknown(network, NetworkFields, "data.cloudInit.network.");
        var mode = network.TryGetProperty("mode", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        if (mode is not ("dhcp" or "static"))
            errors.Add("data.cloudInit.network.mode", "must be dhcp or static");
        if (mode == "static")
        {
            if (!network.TryGetProperty("address", out var address) || address.ValueKind != JsonValueKind.String || !IPNetwork.TryParse(address.GetString(), out _))
                errors.Add("data.cloudInit.network.address", "must be an address with prefix, like 10.0.0.5/24");
            if (!network.TryGetProperty("gateway", out var gateway) || gateway.ValueKind != JsonValueKind.String || !IPAddress.TryParse(gateway.GetString(), out _))
                errors.Add("data.cloudInit.network.gateway", "must be an IP address");
        }
        else if (network.TryGetProperty("address", out _) || network.TryGetProperty("gateway", out _))
        {
            errors.Add("data.cloudInit.network", "address and gateway apply to static mode only");
        }
        ValidateStrings(network, "nameservers", 8, value => IPAddress.TryParse(value, out _), "must be IP addresses", errors, "data.cloudInit.network.");
    }

    private static void ValidateStrings(JsonElement parent, string field, int max, Func<string, bool> rule, string message, FieldErrors errors, string prefix = "data.cloudInit.")
    {
        if (!parent.TryGetProperty(field, out var array))
            return;
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() > max ||
            array.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String || x.GetString()!.Contains('\n') || x.GetString()!.Contains('\r') || !rule(x.GetString()!)))
            errors.Add(prefix + field, $"{message} (at most {max}, one line each)");
    }

    public async Task<QuotaAmounts> GetRequirementAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var cpu = data.TryGetProperty("cpu", out var c) && IsInteger(c, out var cv) ? cv : DefaultCpu;
        var memory = data.TryGetProperty("ram", out var r) ? ParseMemoryMB(r) ?? DefaultMemoryMB : DefaultMemoryMB;
        long storageGB = 0;
        if (data.TryGetProperty("storageGB", out var s) && IsInteger(s, out var sv))
            storageGB = sv;
        else
        {
            var image = await ResolveImageAsync(data, context.Images, cancellationToken);
            storageGB = image?.MinStorageGB ?? 0;
        }
        return new QuotaAmounts(cpu, memory, storageGB * 1024, 1);
    }

    public async Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
    {
        var requested = data.TryGetProperty("imageId", out var i) ? i.GetString() : null;
        var image = await ResolveImageAsync(data, context.Images, cancellationToken)
            ?? throw new TaskRejectedException(ErrorCodes.ImageNotFound, requested is null ? "The catalog has no default image." : $"Image '{requested}' is not in the catalog.");

        var name = data.GetProperty("name").GetString()!;
        var cpu = data.TryGetProperty("cpu", out var c) && IsInteger(c, out var cv) ? cv : DefaultCpu;
        var memoryMB = data.TryGetProperty("ram", out var r) ? ParseMemoryMB(r) ?? DefaultMemoryMB : DefaultMemoryMB;
        var generation = data.TryGetProperty("generation", out var g) && IsInteger(g, out var gv) ? (int)gv : image.Generation;
        if (generation != image.Generation)
            throw Invalid("data.generation", $"image '{image.ImageId}' is generation {image.Generation}");
        var storageGB = data.TryGetProperty("storageGB", out var s) && IsInteger(s, out var sv) ? sv : image.MinStorageGB;
        if (storageGB < image.MinStorageGB)
            throw Invalid("data.storageGB", $"image '{image.ImageId}' needs at least {image.MinStorageGB} GB");

        var cloudInit = data.TryGetProperty("cloudInit", out var ci) ? JsonNode.Parse(ci.GetRawText())!.AsObject() : [];
        cloudInit.TryAdd("hostname", name.Length <= 63 && !name.Contains('.') && !name.Contains('_') ? name : Sanitize(name));
        cloudInit.TryAdd("user", DefaultUser);
        cloudInit.TryAdd("network", new JsonObject { ["mode"] = "dhcp" });

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
        if (data.TryGetProperty("switch", out var sw) && sw.ValueKind == JsonValueKind.String)
            enriched["switch"] = sw.GetString();

        return new Enrichment(JsonSerializer.SerializeToElement(enriched), new QuotaAmounts(cpu, memoryMB, storageGB * 1024, 1));
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

    private static string Sanitize(string name)
    {
        var chars = name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-').Take(63).ToArray();
        return new string(chars).Trim('-') is { Length: > 0 } s ? s : "vm";
    }

    private static TaskRejectedException Invalid(string field, string message)
        => new(ErrorCodes.Validation, $"{field} {message}", new Dictionary<string, string[]> { [field] = [message] });

    private static Task<Image?> ResolveImageAsync(JsonElement data, IImageStore images, CancellationToken cancellationToken)
        => data.TryGetProperty("imageId", out var id) && id.ValueKind == JsonValueKind.String
            ? images.ResolveAsync(id.GetString()!, cancellationToken)
            : images.GetDefaultAsync(cancellationToken);

    internal static bool IsInteger(JsonElement value, out long result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out result);
    }

    /// <summary>"2GB", "512MB", "1TB" or an integer of MB; null when malformed.</summary>
    internal static long? ParseMemoryMB(JsonElement value)
    {
        if (IsInteger(value, out var mb))
            return mb;
        if (value.ValueKind != JsonValueKind.String)
            return null;
        var match = RamPattern().Match(value.GetString()!);
        if (!match.Success || !long.TryParse(match.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 1024L * 1024 * 1024)
            return null;
        return match.Groups["u"].Value.ToUpperInvariant() switch
        {
            "MB" => n,
            "GB" => n * 1024,
            _ => n * 1024 * 1024,
        };
    }
}
