using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>Idempotency keys; a key past <see cref="RetentionOptions.IdempotencyKeys"/> is claimed anew, as if absent (without options: kept forever).</summary>
public sealed class SqliteIdempotencyStore(SqliteDatabase database, TimeProvider clock, IOptions<OrchestratorOptions>? options = null) : IIdempotencyStore
{
    public async Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var expired = options is null ? null : RetentionOptions.Cutoff(now, options.Value.Retention.IdempotencyKeys);
        await using var lease = await database.WriteAsync(cancellationToken);
        await using (var insert = lease.Command(
            """
            INSERT INTO idempotency_keys (tenant_id, key, body_hash, task_id, created_at) VALUES ($tenant, $key, $hash, $task, $now)
            ON CONFLICT(tenant_id, key) DO UPDATE SET body_hash = excluded.body_hash, task_id = excluded.task_id, status_code = NULL, response = NULL, created_at = excluded.created_at
            WHERE idempotency_keys.created_at <= $expired
            """)
            .With("$tenant", tenantId).With("$key", key).With("$hash", bodyHash).With("$task", taskId.ToString()).With("$now", now.ToUnixMs())
            .With("$expired", expired?.ToUnixMs()))
        {
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                await lease.CommitAsync(cancellationToken);
                return null;
            }
        }
        await using var select = lease.Command("SELECT body_hash, task_id, status_code, response FROM idempotency_keys WHERE tenant_id = $tenant AND key = $key")
            .With("$tenant", tenantId).With("$key", key);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new IdempotencyRecord(reader.GetString(0), Guid.Parse(reader.GetString(1)),
            reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    public async Task SaveAnswerAsync(string tenantId, string key, Guid taskId, int statusCode, string response, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "UPDATE idempotency_keys SET status_code = $status, response = $response WHERE tenant_id = $tenant AND key = $key AND task_id = $task AND status_code IS NULL")
            .With("$tenant", tenantId).With("$key", key).With("$task", taskId.ToString()).With("$status", statusCode).With("$response", response);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }
}
