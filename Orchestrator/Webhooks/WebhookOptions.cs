namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>Settings of webhook deliveries (section <c>Orchestrator:Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Orchestrator:Webhooks";

    /// <summary>How many webhooks one tenant may have.</summary>
    public int MaxPerTenant { get; set; } = 10;

    /// <summary>How long one delivery may take (connect, send, response headers) before it counts as failed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait after the first failure; it doubles after each further one (with jitter), up to <see cref="MaxRetryInterval"/>.</summary>
    public TimeSpan FirstRetryInterval { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>After this many failed deliveries in a row the webhook is disabled (with the reason) until someone enables it again.</summary>
    public int MaxConsecutiveFailures { get; set; } = 10;

    /// <summary>How many webhooks are delivered to at the same time.</summary>
    public int Concurrency { get; set; } = 4;

    /// <summary>
    /// How often the event log is read without a signal (retries that fall due; events committed by another orchestrator on the same
    /// store while the broker could not announce them).
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Networks (CIDR, like <c>10.20.0.0/16</c> or <c>127.0.0.0/8</c>) that webhooks may reach although they are loopback, private,
    /// link-local or otherwise refused by default. Empty: only public addresses.
    /// </summary>
    public List<string> AllowedNetworks { get; set; } = [];
}
