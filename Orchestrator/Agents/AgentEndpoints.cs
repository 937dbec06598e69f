using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Agents;

public static class AgentEndpoints
{
    private static readonly HashSet<string> PatchFields = ["status"];

    public static RouteGroupBuilder MapAdminAgentEndpoints(this RouteGroupBuilder admin)
    {
        var agents = admin.MapGroup("/agents").WithTags("Agents");
        agents.MapGet("", async (IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options, CancellationToken ct) =>
            Results.Ok((await store.ListAsync(ct)).Select(a => AgentView.From(a, clock.GetUtcNow(), options.Value.Agents))));
        agents.MapGet("/{agentId}", async (string agentId, IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options, CancellationToken ct) =>
        {
            if (await store.GetAsync(agentId, ct) is not { } agent)
                return NotFound(agentId);
            var inventory = await store.GetInventoryAsync(agentId, ct);
            return Results.Ok(AgentView.From(agent, clock.GetUtcNow(), options.Value.Agents) with { Inventory = inventory?.Inventory, InventoryAt = inventory?.At });
        });
        agents.MapPatch("/{agentId}", PatchAsync);
        return admin;
    }

    /// <summary><c>{"status": "draining" | "active"}</c>: a draining agent is never elected; its tasks in flight finish.</summary>
    private static async Task<IResult> PatchAsync(string agentId, HttpContext http, IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options)
    {
        if (!Identifiers.IsAgentId(agentId) || await store.GetAsync(agentId, http.RequestAborted) is null)
            return NotFound(agentId);
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        errors.RejectUnknown(body, PatchFields);
        var status = new BodyFields(body, errors).Text("status", required: true, AgentAdminStatus.IsKnown,
            $"must be \"{AgentAdminStatus.Active}\" or \"{AgentAdminStatus.Draining}\"");
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());
        if (!await store.SetStatusAsync(agentId, status!, http.RequestAborted))
            return NotFound(agentId);
        return Results.Ok(AgentView.From((await store.GetAsync(agentId, http.RequestAborted))!, clock.GetUtcNow(), options.Value.Agents));
    }

    private static IResult NotFound(string agentId) => Problems.Result(ErrorCodes.NotFound, $"Agent '{agentId}' is not registered.");
}
