using Microsoft.Extensions.Options;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>Refuses an <see cref="BrokerOptions.QueueType"/> other than classic or quorum, naming the setting and the value.</summary>
public sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public static string BadQueueType(string? value)
        => $"{BrokerOptions.Section}:{nameof(BrokerOptions.QueueType)} is '{value}': set it to classic (the default) or quorum.";

    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
        => options.TryGetQueueType(out _) ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(BadQueueType(options.QueueType));
}
