using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>A plain TcpClient to a sidecar's listen port: sends whatever bytes a test wants and sees how the sidecar answers them.</summary>
internal sealed class RawPeer : IDisposable
{
    private readonly TcpClient _client;
    private readonly Stream _stream;

    private RawPeer(TcpClient client, Stream? stream = null)
    {
        _client = client;
        _stream = stream ?? client.GetStream();
        LocalEndPoint = (IPEndPoint)client.Client.LocalEndPoint!;
    }

    /// <summary>
    /// Connects with TLS 1.3 and the certificate of the TLS directory <paramref name="tlsDir"/>
    /// (ca.crt, node.crt, node.key), trusting the sidecar's certificate whatever it is: a member
    /// of the mesh that then sends whatever frames a test wants.
    /// </summary>
    public static async Task<RawPeer> ConnectTlsAsync(int port, string tlsDir)
    {
        var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            using var withKey = X509Certificate2.CreateFromPemFile(Path.Combine(tlsDir, "node.crt"), Path.Combine(tlsDir, "node.key"));
            X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
            var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "kaze-mesh",
                    ClientCertificateContext = SslStreamCertificateContext.Create(certificate, null, offline: true),
                    EnabledSslProtocols = SslProtocols.Tls13,
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                },
                cts.Token);
            return new RawPeer(client, tls);
        }
        catch
        {
            client.Dispose();
            throw;
        }
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
