using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>Signals running scripts to stop once the shutdown grace period has passed.</summary>
public sealed class AgentShutdown : IDisposable
{
    private readonly CancellationTokenSource _graceOver = new();
    private readonly CancellationTokenRegistration _registration;

    public AgentShutdown(IHostApplicationLifetime lifetime, IOptions<AgentOptions> options)
    {
        var grace = options.Value.ShutdownGrace;
        _registration = lifetime.ApplicationStopping.Register(() => _graceOver.CancelAfter(grace));
    }

    /// <summary>Cancelled when the agent is stopping and the grace period is over.</summary>
    public CancellationToken GraceOver => _graceOver.Token;

    public void Dispose()
    {
        _registration.Dispose();
        _graceOver.Dispose();
    }
}
