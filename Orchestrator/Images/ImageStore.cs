using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Images;

/// <summary>A catalog image. <see cref="File"/> is a plain file name inside each agent's image folder.</summary>
public sealed record Image(string ImageId, string Name, string Version, string File, int Generation, int MinStorageGB, string? Os, bool IsDefault, DateTimeOffset PublishedAt)
{
    public const string LatestSuffix = ".latest";
}

/// <summary>The catalog. At most one image is the default: storing a default image clears the flag of every other one.</summary>
public interface IImageStore
{
    Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default);
    /// <summary>Resolves an image id, or <c>&lt;name&gt;.latest</c> to the newest version of that name.</summary>
    Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default);
    Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default);
    /// <summary>Adds the image; false (and nothing changed) when its id exists.</summary>
    Task<bool> TryAddAsync(Image image, CancellationToken cancellationToken = default);
    /// <summary>Stores the image under its id; true when it replaced one, false when it was new.</summary>
    Task<bool> ReplaceAsync(Image image, CancellationToken cancellationToken = default);
    Task<bool> DeleteAsync(string imageId, CancellationToken cancellationToken = default);
}

public sealed class SqliteImageStore(SqliteDatabase database) : IImageStore
{
    private const string Columns = "id, name, version, file, generation, min_storage_gb, os, is_default, published_at";

    public Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default)
        => QueryAsync($"SELECT {Columns} FROM images ORDER BY name, published_at DESC", null, cancellationToken);

    public async Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default)
    {
        if (imageId.EndsWith(Image.LatestSuffix, StringComparison.Ordinal))
        {
            var name = imageId[..^Image.LatestSuffix.Length];
            return (await QueryAsync($"SELECT {Columns} FROM images WHERE name = $p ORDER BY published_at DESC, version DESC LIMIT 1", name, cancellationToken)).FirstOrDefault();
        }
        return (await QueryAsync($"SELECT {Columns} FROM images WHERE id = $p", imageId, cancellationToken)).FirstOrDefault();
    }

    public async Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default)
        => (await QueryAsync($"SELECT {Columns} FROM images WHERE is_default = 1 ORDER BY published_at DESC LIMIT 1", null, cancellationToken)).FirstOrDefault();

    public async Task<bool> TryAddAsync(Image image, CancellationToken cancellationToken = default)
        => await WriteAsync(image, "ON CONFLICT(id) DO NOTHING", cancellationToken) == 1;

    public async Task<bool> ReplaceAsync(Image image, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var exists = connection.Command("SELECT COUNT(*) FROM images WHERE id = $id", transaction).With("$id", image.ImageId);
        var existed = Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken)) > 0;
        await WriteAsync(connection, transaction, image,
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, version = excluded.version, file = excluded.file, generation = excluded.generation, " +
            "min_storage_gb = excluded.min_storage_gb, os = excluded.os, is_default = excluded.is_default, published_at = excluded.published_at", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return existed;
    }

    public async Task<bool> DeleteAsync(string imageId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("DELETE FROM images WHERE id = $id").With("$id", imageId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private async Task<int> WriteAsync(Image image, string onConflict, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        var written = await WriteAsync(connection, transaction, image, onConflict, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return written;
    }

    /// <summary>The insert (or update) and, for a default image that was written, the other defaults cleared: one transaction.</summary>
    private static async Task<int> WriteAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, Image image,
        string onConflict, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(
            $"INSERT INTO images ({Columns}) VALUES ($id, $name, $version, $file, $gen, $min, $os, $default, $published) " + onConflict, transaction)
            .With("$id", image.ImageId).With("$name", image.Name).With("$version", image.Version).With("$file", image.File)
            .With("$gen", image.Generation).With("$min", image.MinStorageGB).With("$os", image.Os)
            .With("$default", image.IsDefault ? 1 : 0).With("$published", image.PublishedAt.ToUnixMs());
        var written = await command.ExecuteNonQueryAsync(cancellationToken);
        if (written == 1 && image.IsDefault)
        {
            await using var others = connection.Command("UPDATE images SET is_default = 0 WHERE is_default = 1 AND id <> $id", transaction).With("$id", image.ImageId);
            await others.ExecuteNonQueryAsync(cancellationToken);
        }
        return written;
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
