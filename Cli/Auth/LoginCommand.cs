using System.CommandLine;
using OpenHvx.Contracts;
using Spectre.Console;

namespace OpenHvx.Cli.Auth;

/// <summary><c>openhvx login</c>: the device authorization grant by default, the password grant with <c>--password</c>.</summary>
public static class LoginCommand
{
    public static Command Create(CliApp app)
    {
        var url = new Option<string>("--url") { Description = $"The gateway, like http://localhost:8080 (default: ${CliEnvironment.Url}, else the last login's)" };
        var password = new Option<bool>("--password") { Description = "Sign in with a username and password (read from stdin when it is not a terminal, else prompted)" };
        var username = new Option<string>("--username", "-u") { Description = "The username for --password (prompted when absent)" };
        var audience = new Option<string>("--audience") { Description = "admin or tenant: the API the token is for (sent as the OAuth resource)" };
        audience.AcceptOnlyFromAmong(Audiences.Admin, Audiences.Tenant);
        var command = new Command("login", "Sign in and keep the tokens in your profile (refreshed automatically)") { url, password, username, audience };
        app.Handle(command, async run =>
        {
            var store = new CredentialStore(app.Environment.ConfigFolder);
            var gateway = (run.Value(url) ?? app.Environment[CliEnvironment.Url] ?? store.Load()?.Url)?.TrimEnd('/')
                ?? throw new CliException(ExitCodes.Usage, "Name the gateway: openhvx login --url http://localhost:8080");
            var oauth = new OAuthClient(app.Http);
            var discovery = await oauth.DiscoverAsync(gateway, run.CancellationToken);
            var resource = OAuthClient.Resource(discovery, run.Value(audience));
            var token = run.Value(password)
                ? await oauth.PasswordAsync(discovery, run.Value(username) ?? Prompt(run, "Username:", secret: false), ReadPassword(run), resource, run.CancellationToken)
                : await DeviceAsync(run, oauth, discovery, resource);
            var credentials = new Credentials(gateway, discovery.TokenEndpoint, token.AccessToken, token.RefreshToken, token.ExpiresAt);
            store.Save(credentials);
            var claims = JwtClaims.Read(token.AccessToken);
            if (run.Renderer.Format == Output.OutputFormat.Json)
                app.Io.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { url = gateway, subject = claims.Subject, audience = claims.Audience, expiresAt = token.ExpiresAt }));
            else
                app.Io.Out.WriteLine($"Signed in to {gateway} as {claims.Subject ?? "?"} ({claims.Audience ?? "?"}); tokens kept in {store.Path}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<OAuthClient.TokenResponse> DeviceAsync(Invocation run, OAuthClient oauth, OAuthClient.Discovery discovery, string? resource)
    {
        var device = await oauth.StartDeviceAsync(discovery, resource, run.CancellationToken);
        var error = run.Renderer.Error;
        error.MarkupLine($"To sign in, open [bold]{Markup.Escape(device.VerificationUriComplete ?? device.VerificationUri)}[/]");
        error.MarkupLine($"and confirm the code [bold]{Markup.Escape(device.UserCode)}[/] (it expires at {device.ExpiresAt.ToLocalTime():HH:mm:ss}).");
        return await oauth.PollDeviceAsync(discovery, device, run.CancellationToken);
    }

    private static string ReadPassword(Invocation run)
    {
        if (!run.App.Io.InputIsTerminal)
            return run.App.Io.In.ReadLine() is { Length: > 0 } line ? line : throw new CliException(ExitCodes.Usage, "No password on stdin.");
        return Prompt(run, "Password:", secret: true);
    }

    private static string Prompt(Invocation run, string text, bool secret)
    {
        if (!run.App.Io.InputIsTerminal)
            throw new CliException(ExitCodes.Usage, $"{text.TrimEnd(':')} is needed: give it as an option (stdin is not a terminal).");
        var prompt = new TextPrompt<string>(text);
        return run.Renderer.Error.Prompt(secret ? prompt.Secret() : prompt);
    }
}
