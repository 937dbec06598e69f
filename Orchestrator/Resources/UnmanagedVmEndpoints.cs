using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>The VMs on an agent's host that no resource links, from its last reconciled inventory (admins only).</summary>
public static class UnmanagedVmEndpoints
{
    public static RouteGroupBuilder MapAdminUnmanagedVmEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/agents/{agentId}/unmanaged-vms", async (string agentId, IAgentStore agents, IResourceStore resources, CancellationToken ct) =>
        {
            if (await agents.GetAsync(agentId, ct) is null)
                return Problems.Result(ErrorCodes.NotFound, $"Agent '{agentId}' is not registered.");
            var last = await resources.GetReconciliationAsync(agentId, ct);
            return Results.Ok(new UnmanagedVmsView(agentId, last?.CollectedAt, last?.ReconciledAt, last?.Unmanaged ?? []));
        }).WithTags("Agents");
        return admin;
    }
}

/// <param name="CollectedAt">when the agent collected the inventory these come from (its clock); null before the first</param>
public sealed record UnmanagedVmsView(string AgentId, DateTimeOffset? CollectedAt, DateTimeOffset? ReconciledAt, IReadOnlyList<UnmanagedVm> Vms);
