using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Webhooks;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteWebhookStore(SqliteDatabase database) : IWebhookStore
{
    private const string Columns = "id, tenant_id, url, events, secret, created_at, status, cursor, failures, next_attempt_at, last_attempt_at, " +
                                   "last_delivered_at, last_error, disabled_at, disabled_reason";

    public async Task<bool> TryCreateAsync(Webhook webhook, int maxPerTenant, CancellationToken cancellationToken)
    {
        // The count and the insert in one write transaction: two creations at once cannot both take the last place.
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var count = lease.Command("SELECT COUNT(*) FROM webhooks WHERE tenant_id = $tenant").With("$tenant", webhook.TenantId);
        if ((long)(await count.ExecuteScalarAsync(cancellationToken))! >= maxPerTenant)
            return false;
        var d = webhook.Delivery;
        await using var insert = lease.Command(
            $"INSERT INTO webhooks ({Columns}) VALUES ($id, $tenant, $url, $events, $secret, $created, $status, $cursor, $failures, $next, $attempt, " +
            "$delivered, $error, $disabled, $reason)")
            .With("$id", webhook.Id).With("$tenant", webhook.TenantId).With("$url", webhook.Url).With("$events", JsonSerializer.Serialize(webhook.Events))
            .With("$secret", webhook.Secret).With("$created", webhook.CreatedAt.ToUnixMs());
        await WithDelivery(insert, d).ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<Webhook?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command($"SELECT {Columns} FROM webhooks WHERE id = $id").With("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public Task<IReadOnlyList<Webhook>> ListAsync(string? tenantId, CancellationToken cancellationToken)
        => QueryAsync($"SELECT {Columns} FROM webhooks WHERE ($tenant IS NULL OR tenant_id = $tenant) ORDER BY created_at, id",
            command => command.With("$tenant", tenantId), cancellationToken);

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM webhooks WHERE id = $id").With("$id", id);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return deleted;
    }

    public Task<IReadOnlyList<Webhook>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
        => QueryAsync(
            $"SELECT {Columns} FROM webhooks WHERE status = $active AND (next_attempt_at IS NULL OR next_attempt_at <= $now) " +
            "ORDER BY COALESCE(next_attempt_at, 0), created_at, id LIMIT $limit",
            command => command.With("$active", Webhook.Active).With("$now", now.ToUnixMs()).With("$limit", limit), cancellationToken);

    public async Task<long> CountBacklogAsync(CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            "SELECT COUNT(*) FROM webhooks w JOIN task_events e ON e.tenant_id = w.tenant_id AND e.seq > w.cursor WHERE w.status = $active")
            .With("$active", Webhook.Active);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<bool> SaveDeliveryAsync(string id, WebhookDelivery expected, WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "UPDATE webhooks SET status = $status, cursor = $cursor, failures = $failures, next_attempt_at = $next, last_attempt_at = $attempt, " +
            "last_delivered_at = $delivered, last_error = $error, disabled_at = $disabled, disabled_reason = $reason " +
            "WHERE id = $id AND cursor = $expectedCursor AND status = $expectedStatus")
            .With("$id", id).With("$expectedCursor", expected.Cursor).With("$expectedStatus", expected.Status);
        var saved = await WithDelivery(command, delivery).ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return saved;
    }

    private static SqliteCommand WithDelivery(SqliteCommand command, WebhookDelivery d)
        => command.With("$status", d.Status).With("$cursor", d.Cursor).With("$failures", d.Failures).With("$next", d.NextAttemptAt?.ToUnixMs())
            .With("$attempt", d.LastAttemptAt?.ToUnixMs()).With("$delivered", d.LastDeliveredAt?.ToUnixMs()).With("$error", d.LastError)
            .With("$disabled", d.DisabledAt?.ToUnixMs()).With("$reason", d.DisabledReason);

    private async Task<IReadOnlyList<Webhook>> QueryAsync(string sql, Action<SqliteCommand> parameters, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(sql);
        parameters(command);
        var webhooks = new List<Webhook>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            webhooks.Add(Read(reader));
        return webhooks;
    }

    private static Webhook Read(SqliteDataReader reader)
    {
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(i));
        return new Webhook(
            reader.GetString(0), reader.GetString(1), reader.GetString(2), JsonSerializer.Deserialize<List<string>>(reader.GetString(3))!, reader.GetString(4),
            SqliteExtensions.FromUnixMs(reader.GetInt64(5)),
            new WebhookDelivery(reader.GetString(6), reader.GetInt64(7), reader.GetInt32(8), Time(9), Time(10), Time(11), Text(12), Time(13), Text(14)));
    }
}
