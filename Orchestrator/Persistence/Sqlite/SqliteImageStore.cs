using OpenHvx.Orchestrator.Images;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

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
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var exists = lease.Command("SELECT COUNT(*) FROM images WHERE id = $id").With("$id", image.ImageId);
        var existed = Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken)) > 0;
        await WriteAsync(lease, image,
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, version = excluded.version, file = excluded.file, generation = excluded.generation, " +
            "min_storage_gb = excluded.min_storage_gb, os = excluded.os, is_default = excluded.is_default, published_at = excluded.published_at", cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return existed;
    }

    public async Task<bool> DeleteAsync(string imageId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM images WHERE id = $id").With("$id", imageId);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return deleted;
    }

    private async Task<int> WriteAsync(Image image, string onConflict, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        var written = await WriteAsync(lease, image, onConflict, cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return written;
    }

    /// <summary>The insert (or update) and, for a default image that was written, the other defaults cleared: one transaction.</summary>
    private static async Task<int> WriteAsync(SqliteLease lease, Image image,
        string onConflict, CancellationToken cancellationToken)
    {
        await using var command = lease.Command(
            $"INSERT INTO images ({Columns}) VALUES ($id, $name, $version, $file, $gen, $min, $os, $default, $published) " + onConflict)
            .With("$id", image.ImageId).With("$name", image.Name).With("$version", image.Version).With("$file", image.File)
            .With("$gen", image.Generation).With("$min", image.MinStorageGB).With("$os", image.Os)
            .With("$default", image.IsDefault ? 1 : 0).With("$published", image.PublishedAt.ToUnixMs());
        var written = await command.ExecuteNonQueryAsync(cancellationToken);
        if (written == 1 && image.IsDefault)
        {
            await using var others = lease.Command("UPDATE images SET is_default = 0 WHERE is_default = 1 AND id <> $id").With("$id", image.ImageId);
            await others.ExecuteNonQueryAsync(cancellationToken);
        }
        return written;
    }

    private async Task<IReadOnlyList<Image>> QueryAsync(string sql, string? parameter, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(sql).With("$p", parameter);
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
