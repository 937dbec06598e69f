using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>The rows behind the task saga.</summary>
public sealed class SqliteTaskStore(SqliteDatabase database) : ITaskStore
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string Columns = "id, version, current_state, tenant_id, action, status, agent_id, created_at, updated_at, deadline_at, document";

    public async Task<bool> TryInsertAsync(TaskState instance, CancellationToken cancellationToken)
    {
        if (instance.Version == 0)
            instance.Version = 1;
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            $"INSERT INTO tasks ({Columns}) VALUES ($id, $version, $state, $tenant, $action, $status, $agent, $created, $updated, $deadline, $document) ON CONFLICT(id) DO NOTHING");
        Bind(command, instance);
        var inserted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return inserted;
    }

    public async Task UpdateAsync(TaskState instance, CancellationToken cancellationToken)
    {
        // An event that changed nothing (ignored duplicates, stragglers) writes nothing.
        var document = JsonSerializer.Serialize(instance, Json);
        if (_loaded.TryGetValue(instance, out var original) && original.Document == document)
            return;

        var expected = instance.Version;
        instance.Version = expected + 1;
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            """
            UPDATE tasks SET version = $version, current_state = $state, tenant_id = $tenant, action = $action, status = $status,
                agent_id = $agent, created_at = $created, updated_at = $updated, deadline_at = $deadline, document = $document
            WHERE id = $id AND version = $expected
            """);
        Bind(command, instance, document);
        command.With("$expected", expected);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            instance.Version = expected;
            throw new SagaVersionConflictException(instance.CorrelationId, $"version {expected} was changed by another update");
        }
        await lease.CommitAsync(cancellationToken);
    }

    public async Task DeleteAsync(TaskState instance, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM tasks WHERE id = $id AND version = $version")
            .With("$id", instance.CorrelationId.ToString()).With("$version", instance.Version);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            throw new SagaVersionConflictException(instance.CorrelationId, "delete found another version");
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<TaskState?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT version, document FROM tasks WHERE id = $id").With("$id", id.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader.GetInt32(0), reader.GetString(1)) : null;
    }

    public async Task<IReadOnlyList<TaskState>> LoadAllAsync(CancellationToken cancellationToken)
        => await QueryAsync(new TaskQuery { Limit = int.MaxValue }, cancellationToken);

    /// <summary>Newest first, filtered on the indexed columns.</summary>
    public async Task<IReadOnlyList<TaskState>> QueryAsync(TaskQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("");
        if (query.TenantId is not null) { where.Add("tenant_id = $tenant"); command.With("$tenant", query.TenantId); }
        if (query.Status is not null) { where.Add("status = $status"); command.With("$status", query.Status); }
        if (query.State is not null) { where.Add("current_state = $state"); command.With("$state", query.State); }
        if (query.Action is not null) { where.Add("action = $action"); command.With("$action", query.Action); }
        if (query.AgentId is not null) { where.Add("agent_id = $agent"); command.With("$agent", query.AgentId); }
        if (query.CreatedBefore is { } before) { where.Add("created_at <= $before"); command.With("$before", before.ToUnixMs()); }
        if (query.InFlight) where.Add("deadline_at IS NOT NULL");
        command.CommandText = "SELECT version, document FROM tasks"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")
            + " ORDER BY created_at DESC, id LIMIT $limit OFFSET $offset";
        command.With("$limit", query.Limit).With("$offset", query.Offset);
        var result = new List<TaskState>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add(Read(reader.GetInt32(0), reader.GetString(1)));
        return result;
    }

    /// <summary>Tasks in a non-final state whose deadline has passed.</summary>
    public async Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset DeadlineAt)>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            "SELECT id, current_state, deadline_at FROM tasks WHERE deadline_at IS NOT NULL AND deadline_at <= $now ORDER BY deadline_at LIMIT $limit")
            .With("$now", now.ToUnixMs()).With("$limit", limit);
        var result = new List<(Guid, string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1), SqliteExtensions.FromUnixMs(reader.GetInt64(2))));
        return result;
    }

    private TaskState Read(int version, string document)
    {
        var state = JsonSerializer.Deserialize<TaskState>(document, Json)!;
        state.Version = version;
        // As stored: what this process wrote, so an unchanged instance serializes to the same text.
        _loaded.AddOrUpdate(state, new LoadedDocument(document));
        return state;
    }

    private sealed record LoadedDocument(string Document);

    // The document each loaded instance had, to tell whether an event changed it.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TaskState, LoadedDocument> _loaded = new();

    private static void Bind(SqliteCommand command, TaskState instance, string? document = null)
    {
        command.With("$id", instance.CorrelationId.ToString())
            .With("$version", instance.Version)
            .With("$state", instance.CurrentState)
            .With("$tenant", instance.TenantId)
            .With("$action", instance.Action)
            .With("$status", instance.Status)
            .With("$agent", instance.AgentId)
            .With("$created", instance.CreatedAt.ToUnixMs())
            .With("$updated", instance.UpdatedAt.ToUnixMs())
            .With("$deadline", instance.DeadlineAt?.ToUnixMs())
            .With("$document", document ?? JsonSerializer.Serialize(instance, Json));
    }
}

