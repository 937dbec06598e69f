using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Images;

/// <summary>A catalog image. <see cref="File"/> is a plain file name inside each agent's image folder.</summary>
public sealed record Image(string ImageId, string Name, string Version, string File, int Generation, int MinStorageGB, string? Os, bool IsDefault, DateTimeOffset PublishedAt);

public interface IImageStore
{
    Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default);
    /// <summary>Resolves an image id, or <c>&lt;name&gt;.latest</c> to the newest version of that name.</summary>
    Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default);
    Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default);
    Task UpsertAsync(Image image, CancellationToken cancellationToken = default);
}

public sealed class SqliteImageStore(SqliteDatabase database) : IImageStore
{
    public const string LatestSuffix = ".latest";
    private const string Columns = "id, name, version, file, generation, min_storage_gb, os, is_default, published_at";

    public Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default)
        => QueryAsync($"SELECT {Columns} FROM images ORDER BY name, published_at DESC", null, cancellationToken);

    public async Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default)
    {
        if (imageId.EndsWith(LatestSuffix, StringComparison.Ordinal))
        {
            var name = imageId[..^LatestSuffix.Length];
            return (await QueryAsync($"SELECT {Columns} FROM images WHERE name = $p ORDER BY published_at DESC, version DESC LIMIT 1", name, cancellationToken)).FirstOrDefault();
        }
        return (await QueryAsync($"SELECT {Columns} FROM images WHERE id = $p", imageId, cancellationToken)).FirstOrDefault();
    }

    public async Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default)
        => (await QueryAsync($"SELECT {Columns} FROM images WHERE is_default = 1 ORDER BY published_at DESC LIMIT 1", null, cancellationToken)).FirstOrDefault();

    public async Task UpsertAsync(Image image, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"INSERT INTO images ({Columns}) VALUES ($id, $name, $version, $file, $gen, $min, $os, $default, $published) " +
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, version = excluded.version, file = excluded.file, generation = excluded.generation, " +
            "min_storage_gb = excluded.min_storage_gb, os = excluded.os, is_default = excluded.is_default, published_at = excluded.published_at")
            .With("$id", image.ImageId).With("$name", image.Name).With("$version", image.Version).With("$file", image.File)
            .With("$gen", image.Generation).With("$min", image.MinStorageGB).With("$os", image.Os)
            .With("$default", image.IsDefault ? 1 : 0).With("$published", image.PublishedAt.ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<IReadOnlyList<Image>> QueryAsync(string sql, string? parameter, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(sql).With("$p", parameter);
        var result = new List<Image>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new Image(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7) == 1, SqliteExtensions.FromUnixMs(reader.GetInt64(8))));
        }
        return result;
    }
}
