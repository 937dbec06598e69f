using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Cli;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Cli;

/// <summary>What one run of the CLI wrote and returned.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";

    public JsonElement Json() => JsonDocument.Parse(Out).RootElement.Clone();
}

/// <summary>
/// A DevHost for the CLI's tests, and the CLI run in process through <see cref="CliApp.RunAsync"/> with writers and environment
/// variables of the test's own: <c>OPENHVX_URL</c> and <c>OPENHVX_TOKEN</c>, and a config folder of the fixture's (never the user's).
/// </summary>
public abstract class CliFixture : DevHostFixture
{
    private TempFolder _config = null!;

    protected string AdminToken { get; private set; } = null!;
    protected string ConfigFolder => _config.Path;

    [OneTimeSetUp]
    public async Task SignInAsync()
    {
        _config = new TempFolder("cli-config");
        AdminToken = await Tokens.PasswordAsync(DevHost.Url, "admin", Tokens.AdminPassword, "admin");
    }

    [OneTimeTearDown]
    public void RemoveConfig() => _config?.Dispose();

    protected Task<CliResult> AsAdminAsync(params string[] args) => RunAsync(Environment(AdminToken), args);

    protected Dictionary<string, string?> Environment(string? token) => new()
    {
        [CliEnvironment.Url] = DevHost.Url,
        [CliEnvironment.Token] = token,
        [CliEnvironment.ConfigDir] = ConfigFolder,
    };

    protected static async Task<CliResult> RunAsync(IDictionary<string, string?> environment, string[] args, string? stdin = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await CliApp.RunAsync(args, new CliIo(output, error, new StringReader(stdin ?? "")), new CliEnvironment(environment.AsReadOnly()));
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    /// <summary>A new tenant (as admin), with limits when given.</summary>
    protected async Task<string> TenantAsync(object? limits = null)
    {
        var tenantId = "cli-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId, limits });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return tenantId;
    }

    /// <summary>A writer of <paramref name="tenantId"/>: its username and a tenant token.</summary>
    protected async Task<(string Username, string Token)> TenantUserAsync(string tenantId, string role = "tenant-user-rw")
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..10];
        var password = username + "-password-1";
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username, password, tenantId, roles = new[] { role } });
        Assert.That(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        return (username, await Tokens.PasswordAsync(DevHost.Url, username, password, "tenant"));
    }

    /// <summary>The tasks the API lists for a tenant (as admin).</summary>
    protected async Task<int> TaskCountAsync(string tenantId)
        => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks?tenantId={tenantId}")).GetProperty("items").GetArrayLength();
}
