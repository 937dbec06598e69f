namespace OpenHvx.DevHost;

internal static class DevHostBanner
{
    public static void Print(string url, string coreUrl)
    {
        Console.WriteLine($$$"""

            OpenHVX DevHost is running at {{{url}}}
              gateway (tokens, YARP) -> orchestrator + one simulated Hyper-V agent, in-memory bus, SQLite in ./.openhvx/

            1. An admin token (the bootstrap admin's password was printed once when ./.openhvx was created,
               or set OPENHVX_ADMIN_PASSWORD before the first start):
                 ADMIN=$(curl -s {{{url}}}/connect/token -d grant_type=password -d audience=admin \
                   -d username=admin -d password="$OPENHVX_ADMIN_PASSWORD" | jq -r .access_token)

            2. A tenant user of tenant test1, and a tenant token:
                 curl -s {{{url}}}/api/v1/admin/users -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
                   -d '{"username":"alice","password":"alice-password-1","tenantId":"test1","roles":["tenant-user-rw"]}'
                 TOKEN=$(curl -s {{{url}}}/connect/token -d grant_type=password -d audience=tenant \
                   -d username=alice -d password=alice-password-1 | jq -r .access_token)

            3. Create a VM as the tenant, then follow the task (the "statusUrl" of the answer):
                 curl -s {{{url}}}/api/v1/tenant/tasks -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
                   -d '{"action":"vm.create","data":{"name":"example","cpu":2,"ram":"2GB"}}'
                 curl -s {{{url}}}/api/v1/tenant/tasks/<taskId> -H "Authorization: Bearer $TOKEN"

            API reference: {{{url}}}/docs    OpenAPI 3.1: {{{url}}}/openapi/v1.json
            Metrics (Prometheus text): curl -s {{{coreUrl}}}/metrics    Health: curl -s {{{url}}}/health/ready
            Traces: set OTEL_EXPORTER_OTLP_ENDPOINT (an OTLP collector, Jaeger, ...) before starting.

            """);
    }
}
