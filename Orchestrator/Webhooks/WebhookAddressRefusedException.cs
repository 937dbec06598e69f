namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>A webhook's host is, or resolves to, an address that <see cref="WebhookAddressPolicy"/> refuses.</summary>
public sealed class WebhookAddressRefusedException(string message) : Exception(message);
