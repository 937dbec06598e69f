using System.CommandLine;
using System.Text.Json;
using OpenHvx.Cli.Output;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Commands.Quotas;

/// <summary><c>openhvx quota get|set</c>: an admin names the tenant; a tenant user reads its own.</summary>
public static class QuotaCommands
{
    private static readonly string[] Counters = ["cpu", "memoryMB", "storageMB", "vmCount"];

    public static Command Create(CliApp app) => new("quota", "A tenant's limits, usage and holds") { Get(app), Set(app) };

    private static Option<string> Tenant(bool required) => new("--tenant", "-t")
    {
        Description = required ? "The tenant" : "The tenant (admins; a tenant user reads its own)",
        Required = required,
    };

    private static Command Get(CliApp app)
    {
        var tenant = Tenant(required: false);
        return ReadCommand.Create(app, "get", "Limits, used and held", run => run.Api.Session.IsAdmin
            ? $"/tenants/{Uri.EscapeDataString(run.Value(tenant) ?? throw new CliException(ExitCodes.Usage, "An admin names the tenant: --tenant <tenantId>."))}/quotas"
            : "/quotas", Table, symbols: tenant);
    }

    private static Command Set(CliApp app)
    {
        var tenant = Tenant(required: true);
        var limits = new QuotaLimitOptions();
        var command = new Command("set", "Change a tenant's limits (admins); usage is kept") { tenant };
        limits.AddTo(command);
        app.Handle(command, async run =>
        {
            var body = limits.Read(run) ?? throw new CliException(ExitCodes.Usage, "Name at least one limit: --cpu, --memory-mb, --storage-mb or --vm-count.");
            run.Renderer.Result(await run.AdminApi.SendAsync(HttpMethod.Patch, $"/tenants/{Uri.EscapeDataString(run.Value(tenant)!)}/quotas", body,
                cancellationToken: run.CancellationToken), Table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static IRenderable Table(JsonElement usage)
    {
        var rows = Counters.Where(c => usage.TryGetProperty(c, out _)).Select(c => (Name: c, Line: usage.GetProperty(c))).ToList();
        var table = new Table().Border(TableBorder.Rounded).AddColumns("quota", "limit", "used", "held");
        foreach (var (name, line) in rows)
            table.AddRow(name, Renderer.Field(line, "limit"), Renderer.Field(line, "used"), Renderer.Field(line, "held"));
        return table;
    }
}
