using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Tasks;

public sealed record IdempotencyRecord(string BodyHash, Guid TaskId, int? StatusCode, string? Response);

public interface IIdempotencyStore
{
    /// <summary>Claims <paramref name="key"/> for a new task; when it is already claimed, returns the first claim.</summary>
    Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default);
    Task SaveAnswerAsync(string tenantId, string key, int statusCode, string response, CancellationToken cancellationToken = default);
}

public sealed class SqliteIdempotencyStore(SqliteDatabase database, TimeProvider clock) : IIdempotencyStore
{
    public async Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using (var insert = connection.Command(
            "INSERT INTO idempotency_keys (tenant_id, key, body_hash, task_id, created_at) VALUES ($tenant, $key, $hash, $task, $now) ON CONFLICT DO NOTHING")
            .With("$tenant", tenantId).With("$key", key).With("$hash", bodyHash).With("$task", taskId.ToString()).With("$now", clock.GetUtcNow().ToUnixMs()))
        {
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
                return null;
        }
        await using var select = connection.Command("SELECT body_hash, task_id, status_code, response FROM idempotency_keys WHERE tenant_id = $tenant AND key = $key")
            .With("$tenant", tenantId).With("$key", key);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new IdempotencyRecord(reader.GetString(0), Guid.Parse(reader.GetString(1)),
            reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    public async Task SaveAnswerAsync(string tenantId, string key, int statusCode, string response, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE idempotency_keys SET status_code = $status, response = $response WHERE tenant_id = $tenant AND key = $key AND status_code IS NULL")
            .With("$tenant", tenantId).With("$key", key).With("$status", statusCode).With("$response", response);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
