namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>Webhooks and their delivery state, which survives restarts: the dispatcher resumes from each cursor.</summary>
public interface IWebhookStore
{
    /// <summary>Stores the webhook unless its tenant already has <paramref name="maxPerTenant"/> (false then).</summary>
    Task<bool> TryCreateAsync(Webhook webhook, int maxPerTenant, CancellationToken cancellationToken);

    Task<Webhook?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Oldest first; only the tenant's when <paramref name="tenantId"/> is given.</summary>
    Task<IReadOnlyList<Webhook>> ListAsync(string? tenantId, CancellationToken cancellationToken);

    /// <summary>False when there was no such webhook.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Active webhooks whose next attempt is due at <paramref name="now"/> (or not set), the longest waiting first.</summary>
    Task<IReadOnlyList<Webhook>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Task events of their tenants that active webhooks have not passed yet (neither delivered nor skipped), summed over those webhooks
    /// in one read: the deliveries still to make, counting events a webhook's filter will skip.
    /// </summary>
    Task<long> CountBacklogAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the delivery state if the stored one still has <paramref name="expected"/>'s cursor and status; false when the webhook
    /// is gone, its cursor has moved (another writer delivered meanwhile: a cursor never goes back) or it was enabled or disabled
    /// meanwhile (a worker never undoes that).
    /// </summary>
    Task<bool> SaveDeliveryAsync(string id, WebhookDelivery expected, WebhookDelivery delivery, CancellationToken cancellationToken);
}
