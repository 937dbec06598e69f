using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Api;

/// <summary>Read-only admin views needed to operate the skeleton: quotas, resources, agents, images.</summary>
public static class AdminReadEndpoints
{
    public static RouteGroupBuilder MapAdminReadEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{tenantId}/quotas", async (string tenantId, IQuotaStore quotas, CancellationToken ct) =>
            await quotas.GetUsageAsync(tenantId, ct) is { } usage
                ? Results.Ok(usage)
                : ApiProblems.Result(ErrorCodes.NotFound, $"Tenant '{tenantId}' was not found.")).WithTags("Quotas");

        admin.MapGet("/tenants/{tenantId}/resources", async (string tenantId, IResourceStore resources, CancellationToken ct) =>
            Results.Ok(await resources.ListAsync(tenantId, ct))).WithTags("Resources");

        admin.MapGet("/images", async (IImageStore images, CancellationToken ct) => Results.Ok(await images.ListAsync(ct))).WithTags("Images");

        var agents = admin.MapGroup("/agents").WithTags("Agents");
        agents.MapGet("", async (IAgentStore store, TimeProvider clock, Microsoft.Extensions.Options.IOptions<OrchestratorOptions> options, CancellationToken ct) =>
            Results.Ok((await store.ListAsync(ct)).Select(a => AgentView.From(a, clock.GetUtcNow(), options.Value.Election))));
        agents.MapGet("/{agentId}", async (string agentId, IAgentStore store, TimeProvider clock, Microsoft.Extensions.Options.IOptions<OrchestratorOptions> options, CancellationToken ct) =>
        {
            if (await store.GetAsync(agentId, ct) is not { } agent)
                return ApiProblems.Result(ErrorCodes.NotFound, $"Agent '{agentId}' is not registered.");
            var inventory = await store.GetInventoryAsync(agentId, ct);
            return Results.Ok(AgentView.From(agent, clock.GetUtcNow(), options.Value.Election) with { Inventory = inventory?.Inventory, InventoryAt = inventory?.At });
        });
        return admin;
    }
}

public sealed record AgentView(
    string AgentId, string Host, string Version, DateTimeOffset LastHeartbeatAt, double HeartbeatAgeSeconds, bool Online,
    IReadOnlyList<string> Capabilities, AgentCapacity? Capacity, AgentCapacity? Free, AgentCapacity InFlightHolds, int VmCount)
{
    /// <summary>The last canonical inventory (single-agent view only).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public System.Text.Json.JsonElement? Inventory { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? InventoryAt { get; init; }

    public static AgentView From(AgentRecord agent, DateTimeOffset now, ElectionOptions election)
    {
        var age = (now - agent.LastHeartbeatAt).TotalSeconds;
        return new AgentView(agent.AgentId, agent.Host, agent.Version, agent.LastHeartbeatAt, Math.Round(age, 1),
            age <= election.HeartbeatFreshness.TotalSeconds, agent.Capabilities, agent.Capacity, agent.Free, agent.InFlight, agent.VmCount);
    }
}
