using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>The retry of the endpoints whose messages must not be lost to a passing storage fault (the saga's, the results relay's).</summary>
public static class TransientRetry
{
    /// <summary>
    /// Transient storage failures (<see cref="StorageFaults.IsTransient"/>) are retried with backoff for
    /// <see cref="TransientRetryOptions.Total"/>; anything else (a refused message, a bug) goes to the error queue at once.
    /// </summary>
    public static void UseTransientRetry(this IConsumePipeConfigurator endpoint, TransientRetryOptions options)
        => endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(StorageFaults.IsTransient);
            retry.Intervals(options.Intervals());
        });

    public static void UseTransientRetry(this IConsumePipeConfigurator endpoint, IServiceProvider services)
        => endpoint.UseTransientRetry(services.GetRequiredService<IOptions<OrchestratorOptions>>().Value.TransientRetry);
}
