namespace OpenHvx.Orchestrator.Messaging;

/// <summary>A wire message the orchestrator refuses; the endpoint moves it to its error queue.</summary>
public sealed class RejectedWireMessageException(string message) : Exception(message);
