using System.Net;
using System.Net.Sockets;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>Loopback ports that were free a moment ago: bound to port 0 together (so they differ), then released.</summary>
/// <remarks>Another process may take one before kaze binds it; <see cref="LoopbackMesh"/> then starts again on new ports.</remarks>
internal static class FreePorts
{
    public static int[] Pick(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (TcpListener listener in listeners)
            {
                listener.Stop();
            }
        }
    }
}
