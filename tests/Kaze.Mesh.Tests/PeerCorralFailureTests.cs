using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests;

public sealed class PeerCorralFailureTests
{
    [Fact]
    public async Task TrySend_PeerGone_UnreachableQuicklyThenResumesWhenPeerReturns()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        TestNode b = await TestNode.StartAsync(2, resolver);
        int port = b.EndPoint.Port;
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 0), "a first packet");
        (await b.ReceiveAsync("the first packet at B")).Packet.Dispose();

        await b.DisposeAsync();
        await Eventually.True(() => a.Counters.ConnectionsOpen == 0, "A to notice that B closed", details: a.Describe);

        // Sends are queued until the dial fails, then refused at once while A backs off.
        long started = Environment.TickCount64;
        int queued = 0;
        SendResult result;
        while (true)
        {
            Packet packet = a.Seq(b.Ident, 1000 + queued);
            result = a.Corral.TrySend(b.Ident, packet);
            if (result != SendResult.Queued)
            {
                packet.Dispose();
                break;
            }

            queued++;
            Assert.True(Environment.TickCount64 - started < 5000, $"still Queued after 5 s ({queued} packets): {a.Describe()}");
            await Task.Delay(1);
        }

        Assert.Equal(SendResult.Unreachable, result);
        await Eventually.True(() => a.UndeliverableCount == queued, $"all {queued} queued packets to be undeliverable", details: a.Describe);
        Assert.Contains(a.UndeliverableReasons, r => r.Contains("0.0.0.2 is unreachable", StringComparison.Ordinal));
        Assert.Equal(PeerState.Backoff, a.Peer(b.Ident)!.State);
        Assert.True(a.Counters[ConnectionFailure.ConnectFailed] >= 1, a.Describe());

        // B comes back on the same port; A finds it again by itself once the backoff ends.
        await using TestNode b2 = await TestNode.StartAsync(2, resolver, o => o.Listen = new Resolver.NodeAddress("127.0.0.1", port));
        long deadline = Environment.TickCount64 + 15_000;
        while (true)
        {
            Packet packet = a.Seq(b.Ident, 2000);
            if (a.Corral.TrySend(b.Ident, packet) == SendResult.Queued)
            {
                break;
            }

            packet.Dispose();
            Assert.True(Environment.TickCount64 < deadline, "A never dialled the returned B: " + a.Describe());
            await Task.Delay(10);
        }

        (Packet again, Ident from) = await b2.ReceiveAsync("a packet at the returned B");
        using (again)
        {
            Assert.Equal(a.Ident, from);
        }
    }

    [Fact]
    public async Task TrySend_SlowPeer_FillsOnlyItsOwnQueue()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o =>
        {
            o.MaxQueuedPackets = 64;
            o.CloseTimeout = TimeSpan.FromMilliseconds(200);
        });
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // The slow peer completes the handshake, then never reads again.
        var slow = new Ident(9);
        using RawPeer raw = await RawPeer.ConnectAsync(a.EndPoint, receiveBufferSize: 4096);
        await raw.HelloAsync(slow);
        await Eventually.True(() => a.Peer(slow)?.State == PeerState.Connected, "the slow peer to be connected", details: a.Describe);

        await FillUntilFullAsync(a, slow);

        // Meanwhile the other peer is served as usual, both ways.
        const int Count = 1_000;
        await PeerCorralTrafficTests.SendAllAsync(a, b.Ident, Count);
        await PeerCorralTrafficTests.SendAllAsync(b, a.Ident, Count);
        for (int i = 0; i < Count; i++)
        {
            (await b.ReceiveAsync($"packet {i} at B while the slow peer blocks")).Packet.Dispose();
            (await a.ReceiveAsync($"packet {i} at A while the slow peer blocks")).Packet.Dispose();
        }

        // The slow peer is still connected and still full (its socket buffer may have grown meanwhile).
        Assert.Equal(PeerState.Connected, a.Peer(slow)!.State);
        await FillUntilFullAsync(a, slow);
        Assert.True(a.Counters.QueueFull >= 2, a.Describe());
        Assert.Equal(0, a.UndeliverableCount);
    }

    [Fact]
    public async Task Delivery_ReceiverStalls_BackpressureReachesTheSenderAndNothingIsLost()
    {
        var resolver = new TestResolver();
        using var gate = new ManualResetEventSlim(true);
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.MaxQueuedPackets = 64);
        await using TestNode b = await TestNode.StartAsync(2, resolver, gate: gate);
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 0), "the first packet");
        (await b.ReceiveAsync("the first packet at B")).Packet.Dispose();

        // B's handler stops: B's connection thread, which delivers, stops reading, the kernel
        // buffers fill, and A's queue for B fills.
        gate.Reset();
        int sent = await FillUntilFullAsync(a, b.Ident, first: 1, limit: 10_000);

        gate.Set();
        for (int i = 1; i < sent; i++)
        {
            (Packet packet, _) = await b.ReceiveAsync($"packet {i} of {sent - 1} after B's handler resumed");
            Assert.Equal(i, TestNode.SequenceOf(packet));
            packet.Dispose();
        }

        Assert.Equal(0, a.UndeliverableCount);
    }

    /// <summary>
    /// Sends 16 KiB packets numbered from <paramref name="first"/> to <paramref name="peer"/> until
    /// its queue is full (the kernel buffers fill first); returns the number of the packet refused.
    /// Fails if <paramref name="limit"/> packets did not fill it.
    /// </summary>
    private static async Task<int> FillUntilFullAsync(TestNode node, Ident peer, int first = 0, int limit = 100_000)
    {
        for (int sent = first; ; sent++)
        {
            Packet packet = node.Seq(peer, sent, padding: 16 * 1024);
            SendResult result = node.Corral.TrySend(peer, packet);
            if (result != SendResult.Queued)
            {
                packet.Dispose();
                Assert.Equal(SendResult.QueueFull, result);
                return sent;
            }

            Assert.True(sent < limit, $"the queue for {peer} never filled: {node.Describe()}");

            // Let the writer push into the socket until the kernel buffers are full.
            if (sent % 64 == 0)
            {
                await Task.Yield();
            }
        }
    }

    [Fact]
    public async Task IdleTimeout_NoTraffic_ClosesQuietlyAndNextSendReconnects()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
        await using TestNode b = await TestNode.StartAsync(2, resolver);
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 1), "a packet");
        (await b.ReceiveAsync("the packet at B")).Packet.Dispose();

        await Eventually.True(
            () => a.Counters.IdleClosed == 1 && a.Counters.ConnectionsOpen == 0 && b.Counters.ConnectionsOpen == 0,
            "the idle connection to close on both sides",
            details: () => a.Describe() + Environment.NewLine + b.Describe());
        foreach (ConnectionFailure failure in ConnectionFailureExtensions.All)
        {
            Assert.Equal(0, a.Counters[failure]);
        }

        Assert.Equal(PeerState.Idle, a.Peer(b.Ident)!.State);

        await a.SendAsync(b.Ident, a.Seq(b.Ident, 2), "a packet after the idle close");
        (Packet packet, _) = await b.ReceiveAsync("the packet after reconnecting");
        Assert.Equal(2, TestNode.SequenceOf(packet));
        packet.Dispose();
        Assert.Equal(2, a.Counters.ConnectionAttempts);
        Assert.Equal(0, a.UndeliverableCount);
    }

    [Fact]
    public async Task TrySend_UnknownIdent_UndeliverableThenUnreachableDuringBackoff()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.ReconnectMin = o.ReconnectMax = TimeSpan.FromSeconds(10));
        var nobody = new Ident(99);

        Assert.Equal(SendResult.Queued, a.Corral.TrySend(nobody, a.Seq(nobody, 1)));

        await Eventually.True(() => a.UndeliverableCount == 1, "the packet to be undeliverable", details: a.Describe);
        Assert.Contains("the resolver does not know 0.0.0.99", a.UndeliverableReasons[0], StringComparison.Ordinal);
        Assert.Equal(1, a.Counters[ConnectionFailure.Unresolved]);
        using Packet refused = a.Seq(nobody, 2);
        Assert.Equal(SendResult.Unreachable, a.Corral.TrySend(nobody, refused));
        PeerStatus status = a.Peer(nobody)!;
        Assert.Equal(PeerState.Backoff, status.State);
        Assert.True(status.BackoffRemaining > TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task DisposeAsync_PacketsQueued_HandedToUndeliverable()
    {
        var resolver = new TestResolver(openAfterLookups: int.MaxValue);
        TestNode a = await TestNode.StartAsync(1, resolver);
        var peer = new Ident(2);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(peer, a.Seq(peer, i)));
        }

        await a.Corral.DisposeAsync().AsTask().Within("the corral to shut down");

        Assert.Equal(10, a.UndeliverableCount);
        Assert.All(a.UndeliverableReasons, r => Assert.Equal("the corral is shutting down", r));
        using Packet late = a.Seq(peer, 11);
        Assert.Equal(SendResult.Unreachable, a.Corral.TrySend(peer, late));
        await a.DisposeAsync();
    }

    [Fact]
    public async Task TrySend_OverMaxFrameSize_TooLargeAndCallerKeepsPacket()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.MaxFrameSize = 4096);
        var peer = new Ident(2);

        using Packet packet = a.Seq(peer, 1, padding: 5000);
        Assert.Equal(SendResult.TooLarge, a.Corral.TrySend(peer, packet));
        Assert.Equal(5004, packet.BodyLength);
        Assert.Empty(a.Corral.Peers);
    }

    [Fact]
    public async Task TrySend_FrameOverPeersMaxFrame_UndeliverableNotSent()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver, o => o.MaxFrameSize = 4096);
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 1), "a small packet");
        (await b.ReceiveAsync("the small packet")).Packet.Dispose();
        Assert.Equal(4096, a.Peer(b.Ident)!.MaxFrameSize);

        await a.SendAsync(b.Ident, a.Seq(b.Ident, 2, padding: 5000), "a packet too large for B");
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 3), "a small packet after it");

        (Packet next, _) = await b.ReceiveAsync("the packet after the large one");
        Assert.Equal(3, TestNode.SequenceOf(next));
        next.Dispose();

        // Handed over from the corral's own thread, never from inside TrySend: it may come a little later.
        await Eventually.True(() => a.UndeliverableCount == 1, "the large packet to be undeliverable", details: a.Describe);
        Assert.Contains("maximum frame size of 4096", a.UndeliverableReasons[0], StringComparison.Ordinal);
        Assert.Equal(1, a.Counters.ConnectionsOpen);
    }
}
