using System.Net;
using System.Net.Sockets;
using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Mesh.Tests;

/// <summary>How packets reach the socket: by the sender at once, in a batch, in a burst; and frames larger than a read.</summary>
public sealed class PeerCorralWriteTests
{
    [Fact]
    public async Task TrySend_NothingQueued_WrittenBeforeTrySendReturns()
    {
        await using CorralPair mesh = await CorralPair.StartAsync(o => o.BurstWindow = TimeSpan.Zero);
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        for (int i = 1; i <= 20; i++)
        {
            long sends = a.Counters.SendCalls;
            long frames = a.Counters.FramesOut;
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, i)));

            // Written by this thread, one frame in one send, before TrySend returned.
            Assert.Equal(sends + 1, a.Counters.SendCalls);
            Assert.Equal(frames + 1, a.Counters.FramesOut);
            (Packet packet, _) = await b.ReceiveAsync($"packet {i} at B");
            Assert.Equal(i, TestNode.SequenceOf(packet));
            packet.Dispose();
        }
    }

    [Fact]
    public async Task BeginBatch_ManyPackets_WrittenTogetherAfterEndBatch()
    {
        const int Count = 500;
        await using CorralPair mesh = await CorralPair.StartAsync(o => o.BurstWindow = TimeSpan.Zero);
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        long sends = a.Counters.SendCalls;
        long frames = a.Counters.FramesOut;
        PeerCorral.BeginBatch();
        try
        {
            for (int i = 0; i < Count; i++)
            {
                Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, i)));
            }

            // Nothing written yet: the batch keeps the connection.
            Assert.Equal(sends, a.Counters.SendCalls);
            Assert.Equal(Count, a.Peer(b.Ident)!.QueuedPackets);
        }
        finally
        {
            PeerCorral.EndBatch();
        }

        // 500 small frames fit one writer batch and one send (by the thread that ends the batch).
        await TestNode.ReceiveInOrderAsync(b, a.Ident, Count);
        await Eventually.True(() => a.Counters.FramesOut == frames + Count, $"{Count} more frames counted out at A", details: a.Describe);
        Assert.Equal(sends + 1, a.Counters.SendCalls);
    }

    [Fact]
    public async Task BeginBatch_OnePacket_WrittenAtEndBatchByTheCaller()
    {
        await using CorralPair mesh = await CorralPair.StartAsync(o => o.BurstWindow = TimeSpan.Zero);
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        long sends = a.Counters.SendCalls;
        PeerCorral.BeginBatch();
        try
        {
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 0)));
            Assert.Equal(sends, a.Counters.SendCalls);
        }
        finally
        {
            PeerCorral.EndBatch();
        }

        // A lone packet (a call waited for) is written by EndBatch itself.
        Assert.Equal(sends + 1, a.Counters.SendCalls);
        await TestNode.ReceiveInOrderAsync(b, a.Ident, 1);
    }

    [Fact]
    public async Task BeginBatch_OtherThreadSendsMeanwhile_WritesAtOnceInOrder()
    {
        await using CorralPair mesh = await CorralPair.StartAsync(o => o.BurstWindow = TimeSpan.Zero);
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        PeerCorral.BeginBatch();
        try
        {
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 0)));

            // Another thread finds the connection kept by this batch: it writes what is queued, its
            // own packet behind. (Waited for synchronously: the batch belongs to this thread.)
            long sends = a.Counters.SendCalls;
            SendResult? result = null;
            var other = new Thread(() => result = a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 1)));
            other.Start();
            Assert.True(other.Join(Deadline.Default), "the send from another thread did not return");
            Assert.Equal(SendResult.Queued, result);
            Assert.Equal(sends + 1, a.Counters.SendCalls);
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 2)));
        }
        finally
        {
            PeerCorral.EndBatch();
        }

        await TestNode.ReceiveInOrderAsync(b, a.Ident, 3);
    }

    [Fact]
    public async Task TrySend_Burst_AllArriveInOrderWithFewerSendsThanFrames()
    {
        const int Count = 2_000;

        // Every packet within a second of the last write counts as a burst.
        await using CorralPair mesh = await CorralPair.StartAsync(o => o.BurstWindow = TimeSpan.FromSeconds(1));
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        long sends = a.Counters.SendCalls;
        long frames = a.Counters.FramesOut;
        for (int i = 0; i < Count; i++)
        {
            await a.SendAsync(b.Ident, a.Seq(b.Ident, i), $"packet {i} of the burst");
        }

        await TestNode.ReceiveInOrderAsync(b, a.Ident, Count);

        // The writer thread counts after its send returns, which may be after B has read it all.
        await Eventually.True(() => a.Counters.FramesOut == frames + Count, $"{Count} more frames counted out at A", details: a.Describe);
        Assert.True(a.Counters.SendCalls - sends < Count, $"{a.Counters.SendCalls - sends} sends for {Count} frames in a burst");
    }

    [Fact]
    public async Task Reader_FramesLargerThanOneRead_ArriveWhole()
    {
        await using CorralPair mesh = await CorralPair.StartAsync();
        (TestNode a, TestNode b) = (mesh.A, mesh.B);

        // Larger than the reader's buffer (64 KiB), then small again, then larger still.
        int[] paddings = [1024 * 1024, 10, 3 * 1024 * 1024 + 7, 100, 70_000];
        for (int i = 0; i < paddings.Length; i++)
        {
            Packet packet = a.Seq(b.Ident, i, paddings[i]);
            packet.Header.Headers["check"] = Google.Protobuf.ByteString.CopyFrom(Fingerprint(packet.BodySpan));
            await a.SendAsync(b.Ident, packet, $"packet {i} with {paddings[i]} bytes of padding");
        }

        for (int i = 0; i < paddings.Length; i++)
        {
            (Packet packet, _) = await b.ReceiveAsync($"packet {i} with {paddings[i]} bytes of padding at B");
            using (packet)
            {
                Assert.Equal(i, TestNode.SequenceOf(packet));
                Assert.Equal(sizeof(int) + paddings[i], packet.BodyLength);
                Assert.Equal(packet.Header.Headers["check"].ToByteArray(), Fingerprint(packet.BodySpan));
            }
        }
    }

    [Fact]
    public async Task Dial_HostName_ResolvedAndConnected()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // "localhost" may resolve to ::1 first, where B (on 127.0.0.1) does not listen: there the
        // dial must go on to the next address. Where it resolves to 127.0.0.1 alone (as on the
        // machine this was written on), this only shows that a host name is resolved and dialled.
        resolver.Set(b.Ident, new NodeAddress("localhost", b.EndPoint.Port));
        IPAddress[] addresses = await Dns.GetHostAddressesAsync("localhost");
        Assert.Contains(addresses, address => address.Equals(IPAddress.Loopback));

        await a.SendAsync(b.Ident, a.Seq(b.Ident, 1), "a packet to localhost");
        (Packet packet, _) = await b.ReceiveAsync("the packet at B");
        packet.Dispose();
        Assert.Equal(PeerState.Connected, a.Peer(b.Ident)!.State);
    }

    [Fact]
    public async Task Dial_NoAnswer_ConnectTimeoutThenUndeliverable()
    {
        // A listener whose accept queue is full: the kernel drops further SYNs, so connect(2) hangs.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                try
                {
                    filler.Connect(IPAddress.Loopback, port);
                }
                catch (SocketException)
                {
                    // In progress, or dropped: either way the queue fills.
                }

                fillers.Add(filler);
            }

            var resolver = new TestResolver();
            await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300));
            var silent = new Ident(5);
            resolver.Set(silent, new NodeAddress("127.0.0.1", port));

            Assert.Equal(SendResult.Queued, a.Corral.TrySend(silent, a.Seq(silent, 1)));
            await Eventually.True(() => a.UndeliverableCount == 1, "the packet to the silent address to be undeliverable", details: a.Describe);
            Assert.Equal(1, a.Counters[ConnectionFailure.ConnectFailed]);
            Assert.Contains(a.UndeliverableReasons, r => r.Contains("timed out after 0.3 s", StringComparison.Ordinal));
            Assert.Equal(0, a.Counters.ConnectionsOpen);
        }
        finally
        {
            foreach (Socket filler in fillers)
            {
                filler.Dispose();
            }
        }
    }

    private static byte[] Fingerprint(ReadOnlySpan<byte> body) => System.Security.Cryptography.SHA256.HashData(body);
}
