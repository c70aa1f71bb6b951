using System.Buffers.Binary;
using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests;

/// <summary>Bad bytes from a raw socket close that connection only; the other peer's traffic goes on.</summary>
public sealed class PeerCorralBadInputTests
{
    [Fact]
    public async Task Reader_GarbageAfterHello_ClosesOnlyThatConnectionAsBadFrame()
    {
        await using var mesh = await CorralPair.StartAsync();
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);
        await raw.HelloAsync(new Ident(7));
        await Eventually.True(() => mesh.A.Counters.ConnectionsOpen == 2, "the raw peer to be connected", details: mesh.A.Describe);

        // A plausible length, then a header length beyond the frame.
        byte[] garbage = [0x10, 0, 0, 0, 0xFF, 0xFF, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        await raw.SendAsync(garbage);

        await raw.WaitClosedAsync("the corral to close the garbage connection");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.BadFrame] == 1, "bad_frame counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("bad_frame", raw.LocalEndPoint.ToString(), "ident 0.0.0.7", "header length"), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
        await Eventually.True(() => mesh.A.Counters.ConnectionsOpen == 1, "only B's connection left open at A", details: mesh.A.Describe);
    }

    [Fact]
    public async Task Handshake_GarbageInsteadOfHello_ClosesOnlyThatConnectionAsBadFrame()
    {
        await using var mesh = await CorralPair.StartAsync();
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);

        // Total length 2: less than the header length field it must contain.
        await raw.SendAsync([2, 0, 0, 0, 0xAB, 0xCD]);

        await raw.WaitClosedAsync("the corral to close the garbage connection");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.BadFrame] == 1, "bad_frame counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("bad_frame", raw.LocalEndPoint.ToString(), "ident unknown"), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Reader_FrameOverMaxFrameSize_ClosesOnlyThatConnectionAsTooLarge()
    {
        await using var mesh = await CorralPair.StartAsync(o => o.MaxFrameSize = 64 * 1024);
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);
        Hdr hello = await raw.HelloAsync(new Ident(7));
        Assert.Equal(64u * 1024, BinaryPrimitives.ReadUInt32LittleEndian(hello.Headers["max-frame"].Span));
        await Eventually.True(() => mesh.A.Counters.ConnectionsOpen == 2, "the raw peer to be connected", details: mesh.A.Describe);

        // Only the length: the corral must refuse before the rest arrives.
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 64 * 1024 + 1);
        await raw.SendAsync(prefix);

        await raw.WaitClosedAsync("the corral to close the connection with the oversized frame");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.FrameTooLarge] == 1, "frame_too_large counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("frame_too_large", raw.LocalEndPoint.ToString(), "ident 0.0.0.7"), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Handshake_SilentPeer_ClosedAfterHandshakeTimeout()
    {
        await using var mesh = await CorralPair.StartAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);

        // It says nothing; the corral's hello arrives and then the connection closes.
        using (Packet hello = await raw.ReadFrameAsync("the corral's hello"))
        {
            Assert.Equal("kaze.hello", hello.Header.BodyType);
        }

        await raw.WaitClosedAsync("the corral to close the silent connection");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.HandshakeTimeout] == 1, "handshake_timeout counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("handshake_timeout", raw.LocalEndPoint.ToString()), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Handshake_DataFrameInsteadOfHello_RefusedAsBadHello()
    {
        await using var mesh = await CorralPair.StartAsync();
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);

        // What an upstream sidecar (no handshake) would send first.
        Hdr header = Hdr.CreateNotify(mesh.A.Ident, "echo.req");
        header.SrcIdent = 7;
        await raw.SendFrameAsync(header, [1, 2, 3]);

        await raw.WaitClosedAsync("the corral to close the connection");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.BadHello] == 1, "bad_hello counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("bad_hello", "ident 0.0.0.7", "'echo.req', not kaze.hello"), mesh.A.Logs.Dump());
        Assert.Equal(0, mesh.A.UndeliverableCount);
        Assert.False(mesh.A.TryReceive(out _));
    }

    [Fact]
    public async Task Handshake_HelloWithOwnIdent_RefusedAsBadHello()
    {
        await using var mesh = await CorralPair.StartAsync();
        using RawPeer raw = await RawPeer.ConnectAsync(mesh.A.EndPoint);

        await raw.HelloAsync(mesh.A.Ident);

        await raw.WaitClosedAsync("the corral to close the connection");
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.BadHello] == 1, "bad_hello counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("bad_hello", "own ident"), mesh.A.Logs.Dump());
        Assert.Null(mesh.A.Peer(mesh.A.Ident));
    }
}
