using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace OpenHvx.HyperVAgent.Tasks;

public enum JournalEntryState
{
    /// <summary>First time this task id is seen (now recorded 'waiting'): run it.</summary>
    Begun,
    /// <summary>Accepted before but never started (the agent stopped while the task waited for its VM): run it.</summary>
    NeverStarted,
    /// <summary>Started before (the agent stopped while it ran): never run it twice.</summary>
    WasRunning,
    /// <summary>Finished before: republish the stored result.</summary>
    Finished,
}

/// <summary>
/// The agent's local record of every task id it accepted, so that each runs at most once, across restarts.
/// A row goes 'waiting' (accepted, waiting for its VM) → 'running' (its script is about to start) → 'done'
/// (result stored). A 'done' row's result is unconfirmed until the broker confirmed its publish; until then it is
/// published again (<see cref="Unconfirmed"/>). Journals of earlier versions hold only 'running' and 'done' rows, which keep
/// their meaning; their results count as confirmed.
/// </summary>
public sealed class TaskJournal
{
    private const string Waiting = "waiting";
    private const string Running = "running";
    private const string Done = "done";

    private readonly string _connectionString;
    private readonly Telemetry.AgentMetrics? _metrics;

    /// <summary>A journal that also counts the runs it starts (<see cref="Telemetry.AgentMetrics"/>).</summary>
    public TaskJournal(IOptions<AgentOptions> options, Telemetry.AgentMetrics metrics) : this(options)
    {
        _metrics = metrics;
    }

    public TaskJournal(IOptions<AgentOptions> options)
    {
        Directory.CreateDirectory(options.Value.FullDataPath);
        Contracts.PrivateFiles.EnsureOwnerOnlyFile(Path.Combine(options.Value.FullDataPath, "journal.db"));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(options.Value.FullDataPath, "journal.db"),
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = Open();
        using var command = connection.CreateCommand();
        // state: 'waiting' | 'running' | 'done'; started_at: when accepted, then when started.
        command.CommandText = """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS journal (
                task_id TEXT PRIMARY KEY,
                action TEXT NOT NULL,
                state TEXT NOT NULL,
                result TEXT,
                started_at INTEGER NOT NULL,
                finished_at INTEGER
            );
            """;
        command.ExecuteNonQuery();
        AddConfirmedColumn(connection);
        using var index = connection.CreateCommand();
        index.CommandText = $"CREATE INDEX IF NOT EXISTS ix_journal_done ON journal(finished_at) WHERE state = '{Done}' AND confirmed = 1";
        index.ExecuteNonQuery();
    }

    /// <summary>Upgrade of a journal written before results were confirmed: its rows count as confirmed (they were published).</summary>
    private static void AddConfirmedColumn(SqliteConnection connection)
    {
        // Immediate: two agents opening one old journal at once add the column once.
        using var transaction = connection.BeginTransaction(deferred: false);
        using var columns = connection.CreateCommand();
        columns.Transaction = transaction;
        columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('journal') WHERE name = 'confirmed'";
        if ((long)columns.ExecuteScalar()! == 0)
        {
            using var alter = connection.CreateCommand();
            alter.Transaction = transaction;
            alter.CommandText = "ALTER TABLE journal ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1";
            alter.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>
    /// Records the task as accepted ('waiting'), or tells what an earlier delivery left. The row is
    /// recorded 'running' only by <see cref="TryStart"/>, once the task holds its VM.
    /// </summary>
    public (JournalEntryState State, string? Result) Begin(Guid taskId, string action, DateTimeOffset now)
    {
        using var connection = Open();
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = $"INSERT INTO journal (task_id, action, state, started_at) VALUES ($id, $action, '{Waiting}', $now) ON CONFLICT DO NOTHING";
            insert.Parameters.AddWithValue("$id", taskId.ToString());
            insert.Parameters.AddWithValue("$action", action);
            insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            if (insert.ExecuteNonQuery() == 1)
                return (JournalEntryState.Begun, null);
        }
        return Read(connection, taskId) ?? throw new InvalidOperationException($"Task {taskId} is neither new nor in the journal.");
    }

    /// <summary>
    /// Records the task 'running', right before its script starts. False when the row is no longer
    /// 'waiting' (another agent on this journal started or finished it): then the script must not run.
    /// </summary>
    public bool TryStart(Guid taskId, DateTimeOffset now)
    {
        using var connection = Open();
        using var update = connection.CreateCommand();
        update.CommandText = $"UPDATE journal SET state = '{Running}', started_at = $now WHERE task_id = $id AND state = '{Waiting}' RETURNING action";
        update.Parameters.AddWithValue("$id", taskId.ToString());
        update.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        if (update.ExecuteScalar() is not string action)
            return false;
        _metrics?.Started(taskId, action);
        return true;
    }

    /// <summary>What the journal holds for the task, or null when it was never accepted.</summary>
    public (JournalEntryState State, string? Result)? Find(Guid taskId)
    {
        using var connection = Open();
        return Read(connection, taskId);
    }

    private static (JournalEntryState State, string? Result)? Read(SqliteConnection connection, Guid taskId)
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT state, result FROM journal WHERE task_id = $id";
        select.Parameters.AddWithValue("$id", taskId.ToString());
        using var reader = select.ExecuteReader();
        if (!reader.Read())
            return null;
        return reader.GetString(0) switch
        {
            Done => (JournalEntryState.Finished, reader.GetString(1)),
            Waiting => (JournalEntryState.NeverStarted, null),
            // 'running', and any state this version does not know: it may have run, so it is not run again.
            _ => (JournalEntryState.WasRunning, null),
        };
    }

    /// <summary>Stores the task's result, unconfirmed: <see cref="Confirm"/> once the broker confirmed its publish.</summary>
    public void Complete(Guid taskId, string result, DateTimeOffset now)
    {
        using var connection = Open();
        using var update = connection.CreateCommand();
        update.CommandText = $"UPDATE journal SET state = '{Done}', result = $result, finished_at = $now, confirmed = 0 WHERE task_id = $id";
        update.Parameters.AddWithValue("$id", taskId.ToString());
        update.Parameters.AddWithValue("$result", result);
        update.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        update.ExecuteNonQuery();
    }

    /// <summary>The broker confirmed the publish of the task's result.</summary>
    public void Confirm(Guid taskId)
    {
        using var connection = Open();
        using var update = connection.CreateCommand();
        update.CommandText = $"UPDATE journal SET confirmed = 1 WHERE task_id = $id AND state = '{Done}'";
        update.Parameters.AddWithValue("$id", taskId.ToString());
        update.ExecuteNonQuery();
    }

    /// <summary>
    /// Deletes finished tasks whose result was confirmed and that finished at or before <paramref name="before"/>; returns how many.
    /// Rows 'waiting' or 'running', and results not confirmed yet, are never deleted.
    /// </summary>
    public int Prune(DateTimeOffset before)
    {
        using var connection = Open();
        using var delete = connection.CreateCommand();
        delete.CommandText = $"DELETE FROM journal WHERE state = '{Done}' AND confirmed = 1 AND finished_at <= $before";
        delete.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
        return delete.ExecuteNonQuery();
    }

    /// <summary>Finished tasks whose result the broker has not confirmed yet, oldest first.</summary>
    public IReadOnlyList<(Guid TaskId, string Result)> Unconfirmed()
    {
        using var connection = Open();
        using var select = connection.CreateCommand();
        select.CommandText = $"SELECT task_id, result FROM journal WHERE state = '{Done}' AND confirmed = 0 ORDER BY finished_at";
        using var reader = select.ExecuteReader();
        var rows = new List<(Guid, string)>();
        while (reader.Read())
            rows.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1)));
        return rows;
    }
}
