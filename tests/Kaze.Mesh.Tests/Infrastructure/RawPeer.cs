using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Google.Protobuf;
using Kaze.Protocol;
using Xunit.Sdk;

namespace Kaze.Mesh.Tests.Infrastructure;

/// <summary>
/// A hand-written peer on a plain socket: speaks the handshake from its description (not through
/// the corral's code), sends whatever bytes a test wants, and keeps every byte it received.
/// </summary>
internal sealed class RawPeer : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly List<byte> _received = [];
    private int _consumed;

    private RawPeer(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Every byte received so far.</summary>
    public byte[] Received => [.. _received];

    /// <summary>The local address: what the corral sees as this peer's address.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

    public static async Task<RawPeer> ConnectAsync(IPEndPoint endPoint, int receiveBufferSize = 0)
    {
        var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        if (receiveBufferSize > 0)
        {
            client.ReceiveBufferSize = receiveBufferSize;
        }

        await client.ConnectAsync(endPoint).WaitAsync(Deadline.Default);
        return new RawPeer(client);
    }

    /// <summary>A hello as the handshake describes it.</summary>
    public static Hdr Hello(Ident self, uint maxFrame, byte[] nonce, bool auth)
    {
        var header = new Hdr { BodyType = "kaze.hello", SrcIdent = self.Value, Version = ProtocolVersion.Current };
        byte[] max = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(max, maxFrame);
        header.Headers["max-frame"] = ByteString.CopyFrom(max);
        header.Headers["nonce"] = ByteString.CopyFrom(nonce);
        if (auth)
        {
            header.Headers["auth"] = ByteString.CopyFromUtf8("hmac-sha256");
        }

        return header;
    }

    /// <summary>HMAC-SHA256(secret, "kaze-auth-v1" ‖ receiver's nonce ‖ sender's nonce ‖ sender (u32 BE) ‖ receiver (u32 BE)).</summary>
    public static byte[] Proof(byte[] secret, byte[] receiverNonce, byte[] senderNonce, Ident sender, Ident receiver)
    {
        var data = new List<byte>();
        data.AddRange("kaze-auth-v1"u8.ToArray());
        data.AddRange(receiverNonce);
        data.AddRange(senderNonce);
        byte[] ident = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(ident, sender.Value);
        data.AddRange(ident);
        BinaryPrimitives.WriteUInt32BigEndian(ident, receiver.Value);
        data.AddRange(ident);
        return HMACSHA256.HashData(secret, data.ToArray());
    }

    /// <summary>Sends a hello and reads the corral's; returns the corral's hello.</summary>
    public async Task<Hdr> HelloAsync(Ident self, byte[]? nonce = null, uint maxFrame = 16 * 1024 * 1024, bool auth = false)
    {
        await SendFrameAsync(Hello(self, maxFrame, nonce ?? RandomNumberGenerator.GetBytes(16), auth));
        using Packet hello = await ReadFrameAsync("the corral's hello");
        Assert.Equal("kaze.hello", hello.Header.BodyType);
        return hello.Header;
    }

    public async Task SendFrameAsync(Hdr header, byte[]? body = null)
    {
        byte[] frame = new byte[TcpFraming.GetFrameSize(header, body?.Length ?? 0)];
        TcpFraming.Write(frame, header, body);
        await SendAsync(frame);
    }

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes).AsTask().Within("a raw send");

    public async Task<Packet> ReadFrameAsync(string what)
    {
        using var cts = new CancellationTokenSource(Deadline.Default);
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_received.Skip(_consumed).ToArray());
            TcpFrameReadResult frame = TcpFraming.ReadFrame(sequence);
            if (frame.IsComplete)
            {
                _consumed += (int)sequence.Slice(0, frame.Consumed).Length;
                return frame.Packet;
            }

            Assert.NotEqual(TcpFrameStatus.Invalid, frame.Status);
            if (await ReadSomeAsync(cts.Token, what) == 0)
            {
                throw new XunitException($"The corral closed the connection before {what}.");
            }
        }
    }

    /// <summary>Reads until the corral closes the connection (end of stream or reset).</summary>
    public async Task WaitClosedAsync(string what)
    {
        using var cts = new CancellationTokenSource(Deadline.Default);
        try
        {
            while (await ReadSomeAsync(cts.Token, what) > 0)
            {
            }
        }
        catch (IOException)
        {
            // Reset: closed too.
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task<int> ReadSomeAsync(CancellationToken ct, string what)
    {
        byte[] buffer = new byte[64 * 1024];
        int n;
        try
        {
            n = await _stream.ReadAsync(buffer, ct);
        }
        catch (OperationCanceledException)
        {
            throw new XunitException($"Timed out after {Deadline.Default.TotalSeconds} s waiting for {what}.");
        }

        _received.AddRange(buffer.AsSpan(0, n).ToArray());
        return n;
    }
}
