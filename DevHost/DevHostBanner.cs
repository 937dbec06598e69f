using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace OpenHvx.DevHost;

internal static class DevHostBanner
{
    public static void Print(WebApplication app)
    {
        var url = app.Services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://localhost:8080";
        Console.WriteLine($$$"""

            OpenHVX DevHost is running at {{{url}}}
              orchestrator + one simulated Hyper-V agent, in-memory bus, SQLite in ./.openhvx/

            Create a VM:
              curl -s -X POST {{{url}}}/api/v1/admin/tasks -H 'Content-Type: application/json' \
                -d '{"tenantId":"test1","action":"vm.create","data":{"name":"example","cpu":2,"ram":"2GB","imageId":"Rocky-10-GenericCloud-Base.latest"}}'
            Then follow the task (the "statusUrl" of the answer):
              curl -s {{{url}}}/api/v1/admin/tasks/<taskId>
            Quota of tenant test1:
              curl -s {{{url}}}/api/v1/admin/tenants/test1/quotas

            """);
    }
}
