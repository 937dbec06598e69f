using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// How a start-up step against the broker is retried while the broker comes up: ten more attempts, 200 ms doubling to 5 s, each
/// failure logged; never after a cancellation, nor after what <paramref name="final"/> says no retry can change.
/// </summary>
public static class BrokerStartupRetry
{
    public static ResiliencePipeline For(ILogger logger, string step, Func<Exception, bool>? final = null) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = 10,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(5),
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && final?.Invoke(ex) != true),
            OnRetry = args =>
            {
                logger.LogWarning("{Step} failed ({Message}); retry {Attempt}", step, args.Outcome.Exception?.Message, args.AttemptNumber + 1);
                return default;
            },
        })
        .Build();
}
