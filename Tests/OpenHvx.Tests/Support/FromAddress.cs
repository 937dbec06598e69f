using System.Net;
using System.Net.Sockets;

namespace OpenHvx.Tests.Support;

/// <summary>HTTP clients whose connections come from a chosen loopback address (127.0.0.2, 127.0.0.3, ...): other callers, as the server sees them.</summary>
public static class FromAddress
{
    public static HttpClient Client(string localAddress, string baseUrl)
    {
        var local = IPAddress.Parse(localAddress);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    var remote = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, local.AddressFamily, cancellationToken);
                    await socket.ConnectAsync(new IPEndPoint(remote[0], context.DnsEndPoint.Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(baseUrl) };
    }
}
