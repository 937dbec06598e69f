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
        return Normalize(address);
    }

    /// <summary>A listening address (<c>http://+:8080</c>, <c>http://[::]:80</c>...) as a client on this machine reaches it, without a trailing '/'.</summary>
    public static string Normalize(string address)
    {
        var uri = new UriBuilder(address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://[::]", "://localhost").Replace("://0.0.0.0", "://localhost"));
        return uri.Uri.ToString().TrimEnd('/');
    }
}
