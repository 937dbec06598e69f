using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace OpenHvx.Bench.Growth;

/// <summary>What <see cref="HistorySeeder.SeedAsync"/> wrote.</summary>
public sealed record SeededHistory(int Tasks, string TemplateTaskId, int DocumentBytes, bool QuotaCountersUpdated, double Seconds);

/// <summary>
/// Writes finished tasks and their committed quota holds straight into the orchestrator's SQLite file (WAL) while it runs:
/// copies of one real SUCCESS task of the tenant (its row, its document and its committed hold), each with a new id, a
/// new VM name, a new resource id and its times moved into the past. Columns are copied by name, so columns that a later
/// schema adds are carried over; when the file has the per-tenant counters (<c>quota_usage</c>), the seeded committed
/// amounts are added to the tenant's <c>used_*</c> in the same transaction, so counters and ledger stay equal.
/// </summary>
public static partial class HistorySeeder
{
    private const int Batch = 10_000;

    // A JSON string holding an ISO 8601 date and time, as System.Text.Json writes DateTimeOffset.
    [GeneratedRegex("\"(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2}))\"")]
    private static partial Regex DatePattern();

    public static async Task<SeededHistory> SeedAsync(string databasePath, string tenantId, int count, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = databasePath, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 60,
        }.ToString());
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA busy_timeout=60000; PRAGMA synchronous=NORMAL;");

        var task = await ReadRowAsync(connection,
            "SELECT * FROM tasks WHERE tenant_id = $tenant AND status = 'SUCCESS' AND id IN (SELECT task_id FROM quota_holds WHERE status = 'committed') " +
            "ORDER BY created_at DESC LIMIT 1", ("$tenant", tenantId))
            ?? throw new InvalidOperationException($"No SUCCESS task of {tenantId} with a committed quota hold to copy.");
        var templateId = (string)task["id"]!;
        var hold = (await ReadRowAsync(connection, "SELECT * FROM quota_holds WHERE task_id = $id", ("$id", templateId)))!;
        var document = (string)task["document"]!;
        var template = Template.Of(document, templateId);
        var countersExist = Convert.ToInt64(await ScalarAsync(connection, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'quota_usage'")) > 0;

        // Seeded tasks end a day before now, one second apart, so that every task of the run is newer than all of them.
        var templateCreated = Convert.ToInt64(task["created_at"], CultureInfo.InvariantCulture);
        var firstCreated = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds() - count * 1000L;
        var taskInsert = Insert("tasks", task.Keys);
        var holdInsert = Insert("quota_holds", hold.Keys);
        for (var start = 0; start < count; start += Batch)
        {
            var end = Math.Min(count, start + Batch);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using var insertTask = Command(connection, transaction, taskInsert, task.Keys);
            await using var insertHold = Command(connection, transaction, holdInsert, hold.Keys);
            for (var i = start; i < end; i++)
            {
                var id = Guid.NewGuid().ToString();
                var shift = firstCreated + i * 1000L - templateCreated;
                foreach (var (column, value) in task)
                {
                    insertTask.Parameters["$" + column].Value = column switch
                    {
                        "id" => id,
                        "document" => template.Render(id, $"hist-{i}", shift),
                        "created_at" or "updated_at" when value is long ms => ms + shift,
                        "deadline_at" => DBNull.Value,
                        _ => value ?? DBNull.Value,
                    };
                }
                await insertTask.ExecuteNonQueryAsync(cancellationToken);
                foreach (var (column, value) in hold)
                {
                    insertHold.Parameters["$" + column].Value = column switch
                    {
                        "task_id" => id,
                        "status" => "committed",
                        "created_at" or "expires_at" or "settled_at" when value is long ms => ms + shift,
                        _ => value ?? DBNull.Value,
                    };
                }
                await insertHold.ExecuteNonQueryAsync(cancellationToken);
            }
            if (countersExist)
            {
                var n = end - start;
                await using var counters = connection.CreateCommand();
                counters.Transaction = transaction;
                counters.CommandText =
                    "INSERT INTO quota_usage (tenant_id, used_cpu, used_memory_mb, used_storage_mb, used_vm_count) VALUES ($tenant, $cpu, $mem, $storage, $vms) " +
                    "ON CONFLICT(tenant_id) DO UPDATE SET used_cpu = used_cpu + excluded.used_cpu, used_memory_mb = used_memory_mb + excluded.used_memory_mb, " +
                    "used_storage_mb = used_storage_mb + excluded.used_storage_mb, used_vm_count = used_vm_count + excluded.used_vm_count";
                counters.Parameters.AddWithValue("$tenant", hold["tenant_id"]);
                counters.Parameters.AddWithValue("$cpu", n * Convert.ToInt64(hold["cpu"], CultureInfo.InvariantCulture));
                counters.Parameters.AddWithValue("$mem", n * Convert.ToInt64(hold["memory_mb"], CultureInfo.InvariantCulture));
                counters.Parameters.AddWithValue("$storage", n * Convert.ToInt64(hold["storage_mb"], CultureInfo.InvariantCulture));
                counters.Parameters.AddWithValue("$vms", n * Convert.ToInt64(hold["vm_count"], CultureInfo.InvariantCulture));
                await counters.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        // Leave a short WAL behind, as the orchestrator's own checkpoints would (busy readers only make this partial).
        await ExecuteAsync(connection, "PRAGMA wal_checkpoint(TRUNCATE);");
        return new SeededHistory(count, templateId, Encoding.UTF8.GetByteCount(document), countersExist, Math.Round(clock.Elapsed.TotalSeconds, 1));
    }

    private static string Insert(string table, IEnumerable<string> columns)
        => $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})";

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql, IEnumerable<string> columns)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var column in columns)
            command.Parameters.Add(new SqliteParameter("$" + column, DBNull.Value));
        command.Prepare();
        return command;
    }

    private static async Task<Dictionary<string, object?>?> ReadRowAsync(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
            return null;
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < reader.FieldCount; i++)
            row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
        return row;
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The template document cut at every place that differs per copy: the task id, the VM name, the resource id and
    /// every date (moved by the copy's shift), so that a copy is a concatenation rather than a parse.
    /// </summary>
    private sealed class Template
    {
        private readonly List<(string Text, Func<(string Id, string Name, string ResourceId, long Shift), string>? Hole)> _parts = [];

        public static Template Of(string document, string taskId)
        {
            var root = JsonNode.Parse(document)!.AsObject();
            var name = root["data"]?["name"]?.GetValue<string>();
            var resourceId = root["resourceId"]?.GetValue<string>();
            var holes = new List<(int Start, int Length, Func<(string Id, string Name, string ResourceId, long Shift), string> Fill)>();
            void Every(string text, Func<(string Id, string Name, string ResourceId, long Shift), string> fill)
            {
                for (var at = document.IndexOf(text, StringComparison.Ordinal); at >= 0; at = document.IndexOf(text, at + text.Length, StringComparison.Ordinal))
                    holes.Add((at, text.Length, fill));
            }
            Every(JsonSerializer.Serialize(taskId), c => JsonSerializer.Serialize(c.Id));
            if (name is not null)
                Every(JsonSerializer.Serialize(name), c => JsonSerializer.Serialize(c.Name));
            if (resourceId is not null && resourceId != taskId)
                Every(JsonSerializer.Serialize(resourceId), c => JsonSerializer.Serialize(c.ResourceId));
            foreach (Match match in DatePattern().Matches(document))
            {
                var at = DateTimeOffset.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                holes.Add((match.Index, match.Length, c => JsonSerializer.Serialize(at.AddMilliseconds(c.Shift))));
            }
            var template = new Template();
            var position = 0;
            foreach (var hole in holes.OrderBy(h => h.Start))
            {
                if (hole.Start < position)
                    continue;
                template._parts.Add((document[position..hole.Start], null));
                template._parts.Add(("", hole.Fill));
                position = hole.Start + hole.Length;
            }
            template._parts.Add((document[position..], null));
            return template;
        }

        public string Render(string id, string name, long shift)
        {
            var copy = (id, name, Guid.NewGuid().ToString(), shift);
            var text = new StringBuilder(4096);
            foreach (var (part, hole) in _parts)
                text.Append(hole is null ? part : hole(copy));
            return text.ToString();
        }
    }
}
