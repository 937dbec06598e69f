using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace OpenHvx.Gateway;

/// <summary>The first address a started server listens on, as a client on this machine reaches it (a wildcard host becomes localhost), without a trailing '/'.</summary>
public static class BoundAddress
{
    public static string Of(IServer server)
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no address yet.");
        var uri = new UriBuilder(address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://[::]", "://localhost").Replace("://0.0.0.0", "://localhost"));
        return uri.Uri.ToString().TrimEnd('/');
    }
}
