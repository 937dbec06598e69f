using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace OpenHvx.Bench.Floor;

/// <summary>
/// The HTTP floor: a bare ASP.NET Core endpoint that reads the body and answers 202 with a small JSON body, run as
/// its own process (<c>--serve-bare URL</c>) so that, like the platform, it does not share the load generator's CPU.
/// </summary>
public static class BareEndpoint
{
    public const string Argument = "--serve-bare";

    public static async Task ServeAsync(string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/tasks", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            await reader.ReadToEndAsync();
            var taskId = Guid.NewGuid();
            http.Response.StatusCode = StatusCodes.Status202Accepted;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync($$"""{"taskId":"{{taskId}}","status":"pending","statusUrl":"/tasks/{{taskId}}"}""");
        });
        app.MapGet("/health/ready", () => Results.Ok());
        await app.RunAsync();
    }
}
