namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// A tenant's subscription to its task events: where they go, which of them (<see cref="Events"/>, patterns of
/// <see cref="WebhookEventFilter"/>), the secret they are signed with, and where delivery stands (<see cref="Delivery"/>).
/// </summary>
public sealed record Webhook(string Id, string TenantId, string Url, IReadOnlyList<string> Events, string Secret, DateTimeOffset CreatedAt,
    WebhookDelivery Delivery)
{
    public const string Active = "active";
    public const string Disabled = "disabled";
}

/// <summary>
/// Where delivery to a webhook stands (the outbox): every event of its tenant up to <see cref="Cursor"/> (a sequence of the task
/// event log) was delivered or did not match; the next goes at <see cref="NextAttemptAt"/> (null: now). <see cref="Failures"/>
/// counts the failed attempts since the last success.
/// </summary>
public sealed record WebhookDelivery(
    string Status,
    long Cursor,
    int Failures = 0,
    DateTimeOffset? NextAttemptAt = null,
    DateTimeOffset? LastAttemptAt = null,
    DateTimeOffset? LastDeliveredAt = null,
    string? LastError = null,
    DateTimeOffset? DisabledAt = null,
    string? DisabledReason = null);
