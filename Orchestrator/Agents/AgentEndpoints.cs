using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Api;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Agents;

public static class AgentEndpoints
{
    public static RouteGroupBuilder MapAdminAgentEndpoints(this RouteGroupBuilder admin)
    {
        var agents = admin.MapGroup("/agents").WithTags("Agents");
        agents.MapGet("", async (IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options, CancellationToken ct) =>
            Results.Ok((await store.ListAsync(ct)).Select(a => AgentView.From(a, clock.GetUtcNow(), options.Value.Election))));
        agents.MapGet("/{agentId}", async (string agentId, IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options, CancellationToken ct) =>
        {
            if (await store.GetAsync(agentId, ct) is not { } agent)
                return Problems.Result(ErrorCodes.NotFound, $"Agent '{agentId}' is not registered.");
            var inventory = await store.GetInventoryAsync(agentId, ct);
            return Results.Ok(AgentView.From(agent, clock.GetUtcNow(), options.Value.Election) with { Inventory = inventory?.Inventory, InventoryAt = inventory?.At });
        });
        return admin;
    }
}
