using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;

namespace OpenHvx.Orchestrator.Images;

/// <summary>The image catalog: list, add (or replace) an image; <c>&lt;name&gt;.latest</c> resolves to the newest.</summary>
public static partial class ImageEndpoints
{
    private static readonly HashSet<string> Fields = ["imageId", "name", "version", "file", "generation", "minStorageGB", "os", "isDefault", "publishedAt"];

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,200}\\.(vhdx|vhd)$", RegexOptions.IgnoreCase)]
    private static partial Regex FilePattern();

    public static RouteGroupBuilder MapAdminImageEndpoints(this RouteGroupBuilder admin)
    {
        var images = admin.MapGroup("/images").WithTags("Images");
        images.MapGet("", async (IImageStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct)));
        images.MapGet("/{imageId}", async (string imageId, IImageStore store, CancellationToken ct) =>
            await store.ResolveAsync(imageId, ct) is { } image
                ? Results.Ok(image)
                : ApiProblems.Result(Contracts.ErrorCodes.NotFound, $"Image '{imageId}' is not in the catalog."));
        images.MapPost("", AddAsync);
        return admin;
    }

    /// <summary>The catalog, read-only: what a tenant may name as <c>imageId</c>.</summary>
    public static RouteGroupBuilder MapTenantImageEndpoints(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/images", async (IImageStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct))).WithTags("Images");
        return tenant;
    }

    private static async Task<IResult> AddAsync(HttpContext http, IImageStore store, TimeProvider clock)
    {
        var (body, invalid) = await JsonBody.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        JsonBody.RejectUnknown(body, Fields, errors);
        string? Text(string field, Regex? pattern, bool required)
        {
            if (!body.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                if (required)
                    errors.Add(field, "is required");
                return null;
            }
            if (v.ValueKind != JsonValueKind.String || (pattern is not null && !pattern.IsMatch(v.GetString()!)))
            {
                errors.Add(field, pattern is null ? "must be a string" : $"must match {pattern}");
                return null;
            }
            return v.GetString();
        }
        int Number(string field, int min, int max, int? fallback)
        {
            if (!body.TryGetProperty(field, out var v))
            {
                if (fallback is null)
                    errors.Add(field, "is required");
                return fallback ?? 0;
            }
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n >= min && n <= max)
                return n;
            errors.Add(field, $"must be an integer from {min} to {max}");
            return 0;
        }
        var name = Text("name", NamePattern(), required: true);
        var version = Text("version", NamePattern(), required: true);
        var file = Text("file", FilePattern(), required: true);
        var imageId = Text("imageId", NamePattern(), required: false) ?? $"{name}.{version}";
        if (imageId.EndsWith(SqliteImageStore.LatestSuffix, StringComparison.Ordinal))
            errors.Add("imageId", "must not end with .latest (reserved for resolution)");
        var generation = Number("generation", 1, 2, 2);
        var minStorage = Number("minStorageGB", 1, 65536, null);
        var os = Text("os", null, required: false);
        var isDefault = body.TryGetProperty("isDefault", out var d) && d.ValueKind == JsonValueKind.True;
        var publishedAt = body.TryGetProperty("publishedAt", out var p) && p.ValueKind == JsonValueKind.String && p.TryGetDateTimeOffset(out var at) ? at : clock.GetUtcNow();
        if (errors.Any)
            return ApiProblems.Validation(errors.ToDictionary());

        var image = new Image(imageId, name!, version!, file!, generation, minStorage, os, isDefault, publishedAt);
        await store.UpsertAsync(image, http.RequestAborted);
        return Results.Created($"/api/v1/admin/images/{imageId}", image);
    }
}
