using System.CommandLine;
using Spectre.Console;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// <c>openhvx logout</c>: ends the login's grant at the token service (RFC 7009: its refresh token, and the access tokens issued with
/// it), then removes the stored tokens. A revocation that fails is reported; the tokens are removed all the same.
/// </summary>
public static class LogoutCommand
{
    public static Command Create(CliApp app)
    {
        var command = new Command("logout", "End the stored login at the gateway and remove it");
        app.Handle(command, async run =>
        {
            var store = new CredentialStore(app.Environment.ConfigFolder);
            if (store.Load() is { RefreshToken: { } refreshToken } stored)
            {
                try
                {
                    var oauth = new OAuthClient(app.Http);
                    await oauth.RevokeAsync(await oauth.DiscoverAsync(stored.Url, run.CancellationToken), refreshToken, run.CancellationToken);
                }
                catch (Exception ex) when (ex is CliException or HttpRequestException)
                {
                    run.Renderer.Error.WriteLine($"The gateway did not revoke the login ({ex.Message}); its refresh token stays valid until it expires.");
                }
            }
            run.Renderer.Error.WriteLine(store.Delete() ? $"Signed out: {store.Path} removed." : "Not signed in.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
