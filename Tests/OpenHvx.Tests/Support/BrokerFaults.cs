using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Contracts;

namespace OpenHvx.Tests.Support;

/// <summary>Faults injected into an agent's link to the broker, and what its journal holds meanwhile.</summary>
public static class BrokerFaults
{
    /// <summary>
    /// Takes from the agent's broker user the right to publish results (its topic permission on <c>results</c> matches no
    /// routing key); disposing the answer gives back what it had.
    /// </summary>
    public static async Task<IAsyncDisposable> RefuseResultsAsync(TestBroker broker, string agentId)
    {
        var user = WireTopology.AgentBrokerUser(agentId);
        var permissions = JsonDocument.Parse(await TestBroker.CtlAsync("list_topic_permissions", "-q", "-p", broker.VirtualHost, "--formatter", "json")).RootElement;
        var results = permissions.EnumerateArray().Single(p => p.GetProperty("user").GetString() == user && p.GetProperty("exchange").GetString() == WireTopology.ResultsExchange);
        var (write, read) = (results.GetProperty("write").GetString()!, results.GetProperty("read").GetString()!);
        await TestBroker.CtlAsync("set_topic_permissions", "-p", broker.VirtualHost, user, WireTopology.ResultsExchange, "^$", "^$");
        return new Restore(() => TestBroker.CtlAsync("set_topic_permissions", "-p", broker.VirtualHost, user, WireTopology.ResultsExchange, write, read));
    }

    /// <summary>Closes the broker connections of the user named <paramref name="clientName"/> (RabbitMQ.Client's ClientProvidedName); how many it closed.</summary>
    public static async Task<int> CloseConnectionsAsync(TestBroker broker, string user, string clientName)
    {
        // Tab-separated: the JSON formatter writes pids in a form close_connection does not take.
        var connections = await TestBroker.CtlAsync("list_connections", "-q", "--no-table-headers", "pid", "user", "vhost", "client_properties");
        var closed = 0;
        foreach (var line in connections.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var columns = line.Split('\t', 4);
            if (columns.Length < 4 || columns[1] != user || columns[2] != broker.VirtualHost || !columns[3].Contains(clientName, StringComparison.Ordinal))
                continue;
            await TestBroker.CtlAsync("close_connection", columns[0], "test: connection closed on purpose");
            closed++;
        }
        return closed;
    }

    /// <summary>Task ids whose result the agent's journal holds but the broker has not confirmed.</summary>
    public static IReadOnlyList<string> UnconfirmedResults(string agentDataPath)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(agentDataPath, "journal.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT task_id FROM journal WHERE state = 'done' AND confirmed = 0";
        using var reader = select.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
            ids.Add(reader.GetString(0));
        return ids;
    }

    private sealed class Restore(Func<Task> restore) : IAsyncDisposable
    {
        private int _done;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                await restore();
        }
    }
}
