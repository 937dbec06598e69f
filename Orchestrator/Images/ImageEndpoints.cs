using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Images;

/// <summary>
/// The image catalog: <c>POST</c> adds a new image (409 when its id exists), <c>PUT</c> replaces one explicitly,
/// <c>DELETE</c> removes one nothing depends on; <c>&lt;name&gt;.latest</c> resolves to the newest version.
/// </summary>
public static partial class ImageEndpoints
{
    private static readonly HashSet<string> Fields = ["imageId", "name", "version", "file", "generation", "minStorageGB", "os", "isDefault", "publishedAt"];

    /// <summary>A date in a version (<c>10.1-20251120</c>, <c>20251015</c>): what <c>publishedAt</c> defaults to.</summary>
    [GeneratedRegex(@"(?<![0-9])(?<date>(19|20)[0-9]{6})(?![0-9])")]
    private static partial Regex VersionDatePattern();

    public static RouteGroupBuilder MapAdminImageEndpoints(this RouteGroupBuilder admin)
    {
        var images = admin.MapGroup("/images").WithTags("Images");
        images.MapGet("", async (IImageStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct)));
        images.MapGet("/{imageId}", async (string imageId, IImageStore store, CancellationToken ct) =>
            await store.ResolveAsync(imageId, ct) is { } image ? Results.Ok(image) : NotFound(imageId));
        images.MapPost("", AddAsync);
        images.MapPut("/{imageId}", ReplaceAsync);
        images.MapDelete("/{imageId}", DeleteAsync);
        return admin;
    }

    /// <summary>The catalog, read-only: what a tenant may name as <c>imageId</c> (not where the file lies on a host).</summary>
    public static RouteGroupBuilder MapTenantImageEndpoints(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/images", async (IImageStore store, CancellationToken ct) => Results.Ok((await store.ListAsync(ct)).Select(TenantImageView.From)))
            .WithTags("Images");
        return tenant;
    }

    private static IResult NotFound(string imageId) => Problems.Result(ErrorCodes.NotFound, $"Image '{imageId}' is not in the catalog.");

    private static async Task<IResult> AddAsync(HttpContext http, IImageStore store)
    {
        var (image, problem) = await ReadAsync(http, routeId: null);
        if (problem is not null)
            return problem;
        if (!await store.TryAddAsync(image!, http.RequestAborted))
            return Problems.Result(ErrorCodes.ImageExists, $"Image '{image!.ImageId}' exists; PUT /api/v1/admin/images/{image.ImageId} replaces it.");
        return Results.Created($"/api/v1/admin/images/{image!.ImageId}", image);
    }

    private static async Task<IResult> ReplaceAsync(string imageId, HttpContext http, IImageStore store)
    {
        var (image, problem) = await ReadAsync(http, imageId);
        if (problem is not null)
            return problem;
        return await store.ReplaceAsync(image!, http.RequestAborted)
            ? Results.Ok(image)
            : Results.Created($"/api/v1/admin/images/{image!.ImageId}", image);
    }

    /// <summary>Refused while the image is the default, while a vm.create in flight may use it, or while a VM built from it exists.</summary>
    private static async Task<IResult> DeleteAsync(string imageId, IImageStore store, ITaskStore tasks, IResourceStore resources, CancellationToken ct)
    {
        if (imageId.EndsWith(Image.LatestSuffix, StringComparison.Ordinal) || await store.ResolveAsync(imageId, ct) is not { } image)
            return NotFound(imageId);
        if (image.IsDefault)
            return InUse(imageId, "it is the catalog default; make another image the default first");
        var creating = await tasks.QueryAsync(new TaskQuery { Action = ActionNames.VmCreate, InFlight = true, Limit = int.MaxValue }, ct);
        if (creating.Count(t => MayUse(t.EnrichedData ?? t.Data, image)) is > 0 and var inFlight)
            return InUse(imageId, $"{inFlight} vm.create task(s) in flight may use it");
        if (await resources.CountBuiltFromAsync(imageId, ct) is > 0 and var vms)
            return InUse(imageId, $"{vms} VM(s) were built from it (their disks are differencing disks of the image)");
        return await store.DeleteAsync(imageId, ct) ? Results.NoContent() : NotFound(imageId);
    }

    private static IResult InUse(string imageId, string why) => Problems.Result(ErrorCodes.ImageInUse, $"Image '{imageId}' is in use: {why}.");

    private static bool MayUse(JsonElement data, Image image)
        => data.ValueKind == JsonValueKind.Object && data.TryGetProperty("imageId", out var id) && id.ValueKind == JsonValueKind.String
            && (id.GetString() == image.ImageId || id.GetString() == image.Name + Image.LatestSuffix);

    /// <summary>The body of POST or PUT as an image; with a route id, a body <c>imageId</c> must name the same image.</summary>
    private static async Task<(Image? Image, IResult? Problem)> ReadAsync(HttpContext http, string? routeId)
    {
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return (null, invalid);
        var errors = new FieldErrors();
        errors.RejectUnknown(body, Fields);
        var fields = new BodyFields(body, errors);
        var name = fields.Text("name", required: true, Identifiers.IsCatalogName, Identifiers.CatalogNameRule);
        var version = fields.Text("version", required: true, Identifiers.IsCatalogName, Identifiers.CatalogNameRule);
        var file = fields.Text("file", required: true, Identifiers.IsImageFile, Identifiers.ImageFileRule);
        var imageId = fields.Text("imageId", required: false, Identifiers.IsCatalogName, Identifiers.CatalogNameRule);
        if (routeId is not null && imageId is not null && imageId != routeId)
            errors.Add("imageId", "must be the image id of the path (or absent)");
        imageId = routeId ?? imageId ?? $"{name}.{version}";
        if (routeId is not null && !Identifiers.IsCatalogName(routeId))
            errors.Add("imageId", "must match " + Identifiers.CatalogNameRule);
        if (imageId.EndsWith(Image.LatestSuffix, StringComparison.Ordinal))
            errors.Add("imageId", "must not end with .latest (reserved for resolution)");
        var generation = fields.Integer("generation", 1, 2, fallback: 2);
        var minStorage = fields.Integer("minStorageGB", 1, VmCreateAction.MaxStorageGB, fallback: null);
        var os = fields.Text("os", required: false, value => value.Length <= 64 && !value.Any(char.IsControl), "1 to 64 printable characters");
        var isDefault = fields.Boolean("isDefault") ?? false;
        var publishedAt = fields.DateTime("publishedAt") ?? (version is null ? null : PublishedAtOf(version));
        if (publishedAt is null && version is not null && !errors.Contains("publishedAt"))
            errors.Add("publishedAt", "is required: the version holds no date (yyyyMMdd) to take it from");
        if (errors.Any)
            return (null, Problems.Validation(errors.ToDictionary()));
        return (new Image(imageId, name!, version!, file!, generation, minStorage, os, isDefault, publishedAt!.Value), null);
    }

    /// <summary>The date a version names (<c>10.1-20251120</c> → 2025-11-20), when it names exactly one.</summary>
    internal static DateTimeOffset? PublishedAtOf(string version)
    {
        var dates = VersionDatePattern().Matches(version);
        return dates.Count == 1 && DateTime.TryParseExact(dates[0].Groups["date"].Value, "yyyyMMdd", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date)
            ? new DateTimeOffset(date, TimeSpan.Zero)
            : null;
    }
}

/// <summary>What a tenant sees of a catalog image: the fields it may choose by, not the file on the hosts.</summary>
public sealed record TenantImageView(string ImageId, string Name, string Version, int Generation, int MinStorageGB, string? Os, bool IsDefault, DateTimeOffset PublishedAt)
{
    public static TenantImageView From(Image image)
        => new(image.ImageId, image.Name, image.Version, image.Generation, image.MinStorageGB, image.Os, image.IsDefault, image.PublishedAt);
}
