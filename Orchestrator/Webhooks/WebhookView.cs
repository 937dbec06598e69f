using System.Globalization;
using System.Text.Json.Serialization;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// A webhook as its tenant and admins see it, built from these fields only: never the secret (a hint of it), except
/// <see cref="Secret"/> in the answer that created it. <see cref="LastEventId"/> is the last event delivered or skipped (an event id
/// of the event streams).
/// </summary>
public sealed record WebhookView(
    string Id,
    string TenantId,
    string Url,
    IReadOnlyList<string> Events,
    string Status,
    string SecretHint,
    DateTimeOffset CreatedAt,
    string LastEventId,
    int ConsecutiveFailures,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? LastDeliveredAt,
    string? LastError,
    DateTimeOffset? DisabledAt,
    string? DisabledReason)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }

    public static WebhookView Of(Webhook webhook)
    {
        var d = webhook.Delivery;
        return new WebhookView(webhook.Id, webhook.TenantId, webhook.Url, webhook.Events, d.Status, WebhookSecret.Hint(webhook.Secret), webhook.CreatedAt,
            d.Cursor.ToString(CultureInfo.InvariantCulture), d.Failures, d.NextAttemptAt, d.LastAttemptAt, d.LastDeliveredAt, d.LastError, d.DisabledAt,
            d.DisabledReason);
    }
}
