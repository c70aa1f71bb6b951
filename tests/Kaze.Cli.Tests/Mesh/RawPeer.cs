using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>A plain TcpClient to a sidecar's listen port: sends whatever bytes a test wants and sees how the sidecar answers them.</summary>
internal sealed class RawPeer : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawPeer(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        LocalEndPoint = (IPEndPoint)client.Client.LocalEndPoint!;
    }

    /// <summary>This end's address: what the sidecar's log lines call the peer.</summary>
    public IPEndPoint LocalEndPoint { get; }

    public static async Task<RawPeer> ConnectAsync(int port)
    {
        var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return new RawPeer(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Reads one whole frame: its header bytes and its body.</summary>
    public async Task<(byte[] Header, byte[] Body)> ReadFrameAsync(string what, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            byte[] prefix = new byte[8];
            await _stream.ReadExactlyAsync(prefix, cts.Token);
            uint total = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
            uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(4));
            if (total < 4 || total > RawFrames.MaxFrame || headerLength > total - 4)
            {
                throw new XunitException($"The sidecar sent a frame with total {total} and header length {headerLength}, reading {what}.");
            }

            byte[] rest = new byte[total - 4];
            await _stream.ReadExactlyAsync(rest, cts.Token);
            return (rest[..(int)headerLength], rest[(int)headerLength..]);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new XunitException($"Timed out after {timeout.TotalSeconds:0.###} s waiting for {what}.");
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            throw new XunitException($"The connection ended while waiting for {what}: {e.Message}");
        }
    }

    /// <summary>
    /// Reads (and drops) whatever comes until the sidecar closes the connection: end of stream or a
    /// reset. Returns which; fails if the connection is still open after <paramref name="timeout"/>.
    /// </summary>
    public async Task<string> WaitForCloseAsync(string what, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                if (await _stream.ReadAsync(buffer, cts.Token) == 0)
                {
                    return "end of stream";
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new XunitException($"Timed out after {timeout.TotalSeconds:0.###} s waiting for {what}: the connection is still open.");
        }
        catch (IOException e) when (e.InnerException is SocketException socket)
        {
            // Closed with our bytes unread: a reset.
            return "reset (" + socket.SocketErrorCode + ")";
        }
    }

    public void Dispose() => _client.Dispose();
}
