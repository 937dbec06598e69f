namespace OpenHvx.Orchestrator.Persistence;

/// <summary>The store cannot be used at all (a database that cannot be opened for writing at start): the orchestrator stops with this message.</summary>
public sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
