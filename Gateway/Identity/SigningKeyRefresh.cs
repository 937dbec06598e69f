using Microsoft.Extensions.Options;

namespace OpenHvx.Gateway.Identity;

/// <summary>Reads the signing keys again every <see cref="GatewayOptions.StoreRefresh"/>: a rotated-in key starts signing on its turn, here and on every gateway of the store.</summary>
public sealed class SigningKeyRefresh(IdentityKeys keys, IOptions<GatewayOptions> options, TimeProvider clock, ILogger<SigningKeyRefresh> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.StoreRefresh, clock);
        do
        {
            try
            {
                keys.Refresh();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "The signing keys could not be read again from the identity store; the current ones stay in use");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
