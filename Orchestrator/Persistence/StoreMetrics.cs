using System.Diagnostics.Metrics;

namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// What the orchestrator costs its store: <c>openhvx_store_write_transactions_total</c>, every committed write transaction (SQLite: each
/// one; MongoDB: each multi-document transaction). Divided by the tasks finished, it is the store writes per task, background work included.
/// </summary>
public static class StoreMetrics
{
    // A meter of the orchestrator's name: the adapters are built outside DI's meter factory, and exporters listen by name.
    private static readonly Meter Meter = new(Telemetry.OrchestratorDiagnostics.Name);

    private static readonly Counter<long> WriteTransactions = Meter.CreateCounter<long>("openhvx.store.write_transactions", "{transaction}",
        "Write transactions the store committed (SQLite: each; MongoDB: each multi-document transaction).");

    public static void WriteCommitted() => WriteTransactions.Add(1);
}
