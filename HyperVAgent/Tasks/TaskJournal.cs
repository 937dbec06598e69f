using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace OpenHvx.HyperVAgent.Tasks;

public enum JournalEntryState
{
    /// <summary>First time this task id is seen: run it.</summary>
    Begun,
    /// <summary>Started before (the agent stopped while it ran): never run it twice.</summary>
    WasRunning,
    /// <summary>Finished before: republish the stored result.</summary>
    Finished,
}

/// <summary>The agent's local record of every task id it accepted, so that each runs at most once, across restarts.</summary>
public sealed class TaskJournal
{
    private readonly string _connectionString;

    public TaskJournal(IOptions<AgentOptions> options)
    {
        Directory.CreateDirectory(options.Value.FullDataPath);
        Contracts.PrivateFiles.EnsureDatabaseFile(Path.Combine(options.Value.FullDataPath, "journal.db"));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(options.Value.FullDataPath, "journal.db"),
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = Open();
        using var command = connection.CreateCommand();
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
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    public (JournalEntryState State, string? Result) Begin(Guid taskId, string action, DateTimeOffset now)
    {
        using var connection = Open();
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO journal (task_id, action, state, started_at) VALUES ($id, $action, 'running', $now) ON CONFLICT DO NOTHING";
            insert.Parameters.AddWithValue("$id", taskId.ToString());
            insert.Parameters.AddWithValue("$action", action);
            insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            if (insert.ExecuteNonQuery() == 1)
                return (JournalEntryState.Begun, null);
        }
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT state, result FROM journal WHERE task_id = $id";
        select.Parameters.AddWithValue("$id", taskId.ToString());
        using var reader = select.ExecuteReader();
        reader.Read();
        return reader.GetString(0) == "done" ? (JournalEntryState.Finished, reader.GetString(1)) : (JournalEntryState.WasRunning, null);
    }

    public void Complete(Guid taskId, string result, DateTimeOffset now)
    {
        using var connection = Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE journal SET state = 'done', result = $result, finished_at = $now WHERE task_id = $id";
        update.Parameters.AddWithValue("$id", taskId.ToString());
        update.Parameters.AddWithValue("$result", result);
        update.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        update.ExecuteNonQuery();
    }
}
