using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OpenHvx.Orchestrator.Webhooks;

public static class WebhookServices
{
    /// <summary>Options, the address policy, the sender and the dispatcher (the store comes with the storage adapters).</summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section))
            .Validate(o => o.MaxPerTenant >= 0 && o.MaxConsecutiveFailures >= 1 && o.Concurrency >= 1 && o.Timeout > TimeSpan.Zero
                && o.FirstRetryInterval > TimeSpan.Zero && o.MaxRetryInterval >= o.FirstRetryInterval && o.PollInterval > TimeSpan.Zero,
                "Orchestrator:Webhooks: MaxConsecutiveFailures and Concurrency at least 1, positive intervals, MaxRetryInterval at least FirstRetryInterval.")
            .ValidateOnStart();
        services.AddSingleton(sp => new WebhookAddressPolicy(sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowedNetworks));
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return services;
    }
}
