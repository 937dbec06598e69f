namespace OpenHvx.Gateway.Federation;

public static class EntraFederation
{
    public static IServiceCollection AddEntraFederation(this IServiceCollection services, IConfiguration configuration) => services;
}
