using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests;

public sealed class PeerCorralTrafficTests
{
    [Fact]
    public async Task TrySend_TenThousandEachWay_ArriveInOrderOverOneConnection()
    {
        const int Count = 10_000;
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // A dials; once B has the connection, both directions share it.
        await a.SendAsync(b.Ident, a.Seq(b.Ident, -1), "the first packet");
        (Packet first, Ident firstFrom) = await b.ReceiveAsync("the first packet at B");
        Assert.Equal(a.Ident, firstFrom);
        Assert.Equal(a.Ident.Value, first.Header.SrcIdent);
        first.Dispose();

        Task aToB = SendAllAsync(a, b.Ident, Count);
        Task bToA = SendAllAsync(b, a.Ident, Count);
        Task receivedAtB = TestNode.ReceiveInOrderAsync(b, a.Ident, Count);
        Task receivedAtA = TestNode.ReceiveInOrderAsync(a, b.Ident, Count);
        await Task.WhenAll(aToB, bToA, receivedAtB, receivedAtA).Within("10,000 packets each way");

        Assert.Equal(1, a.Counters.ConnectionAttempts);
        Assert.Equal(0, b.Counters.ConnectionAttempts);
        Assert.Equal(1, a.Counters.ConnectionsEstablished);
        Assert.Equal(1, b.Counters.ConnectionsEstablished);
        Assert.Equal(1, a.Counters.ConnectionsOpen);
        Assert.Equal(1, b.Counters.ConnectionsOpen);
        Assert.Equal(ConnectionDirection.Outbound, a.Peer(b.Ident)!.Direction);
        Assert.Equal(ConnectionDirection.Inbound, b.Peer(a.Ident)!.Direction);
        Assert.Equal(0, a.UndeliverableCount + b.UndeliverableCount);
    }

    [Fact]
    public async Task TrySend_BothDialAtOnce_OneConnectionRemainsAndNothingIsLost()
    {
        const int Count = 2_000;

        // Both lookups wait for each other: the two sides dial at the same moment.
        var resolver = new TestResolver(openAfterLookups: 2);
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        Task aToB = SendAllAsync(a, b.Ident, Count);
        Task bToA = SendAllAsync(b, a.Ident, Count);
        Task<HashSet<int>> atB = ReceiveSetAsync(b, Count);
        Task<HashSet<int>> atA = ReceiveSetAsync(a, Count);
        try
        {
            await Task.WhenAll(aToB, bToA, atB, atA).Within("2,000 packets each way while both sides dial", TimeSpan.FromSeconds(30));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException(e.Message + Environment.NewLine + a.Describe() + Environment.NewLine + b.Describe());
        }

        Assert.Equal(Count, (await atB).Count);
        Assert.Equal(Count, (await atA).Count);
        await Eventually.True(
            () => a.Counters.ConnectionsOpen == 1 && b.Counters.ConnectionsOpen == 1,
            "one connection left on each side",
            details: () => a.Describe() + Environment.NewLine + b.Describe());

        // Both dialled. B may have dialled once more: when A closes B's connection before A's
        // own has finished its handshake at B, B redials rather than drop what it has queued.
        Assert.True(resolver.Lookups >= 2, $"{resolver.Lookups} lookups");
        Assert.True(a.Counters.ConnectionAttempts >= 1 && b.Counters.ConnectionAttempts >= 1, a.Describe() + b.Describe());
        Assert.True(a.Counters[ConnectionFailure.Duplicate] + b.Counters[ConnectionFailure.Duplicate] >= 1, a.Describe() + b.Describe());

        // The one kept is the one dialled by the lower ident, A.
        Assert.Equal(ConnectionDirection.Outbound, a.Peer(b.Ident)!.Direction);
        Assert.Equal(ConnectionDirection.Inbound, b.Peer(a.Ident)!.Direction);
        Assert.Equal(0, a.UndeliverableCount + b.UndeliverableCount);
    }

    [Fact]
    public async Task TrySend_ManyPacketsQueued_WrittenWithFarFewerSendCallsThanFrames()
    {
        const int Count = 5_000;
        var resolver = new TestResolver(openAfterLookups: int.MaxValue);
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // Everything queues while the dial waits on the resolver.
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, i)));
        }

        Assert.Equal(Count, a.Peer(b.Ident)!.QueuedPackets);
        resolver.Open();
        await TestNode.ReceiveInOrderAsync(b, a.Ident, Count).Within("5,000 queued packets at B");

        // Hello included: one frame and one send call more. Counted once each send returned,
        // which may be after B has read everything.
        await Eventually.True(() => a.Counters.FramesOut == Count + 1, $"{Count + 1} frames counted out at A", details: a.Describe);
        long frames = a.Counters.FramesOut;
        long sends = a.Counters.SendCalls;
        Assert.Equal(Count + 1, frames);
        Assert.True(sends * 50 <= frames, $"{sends} send calls for {frames} frames");
    }

    [Fact]
    public async Task TrySend_SrcIdentOfAnotherNode_ArrivesAsSent()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // A relays a packet that another node (9.9.9.9) sent: its srcIdent must survive.
        Hdr header = Hdr.CreateRequest(b.Ident, "echo.req", sequence: 7, timeoutMilliseconds: 1000);
        header.SrcIdent = Ident.Parse("9.9.9.9").Value;
        Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, Packet.Create(header, "hi"u8)));

        (Packet packet, Ident from) = await b.ReceiveAsync("the relayed request at B");
        using (packet)
        {
            Assert.Equal(a.Ident, from);
            Assert.Equal(Ident.Parse("9.9.9.9").Value, packet.Header.SrcIdent);
            Assert.Equal(7u, packet.Header.Req);
            Assert.Equal("hi"u8.ToArray(), packet.BodySpan.ToArray());
        }
    }

    internal static async Task SendAllAsync(TestNode from, Ident to, int count)
    {
        await Task.Yield();
        for (int i = 0; i < count; i++)
        {
            await from.SendAsync(to, from.Seq(to, i), $"packet {i} from {from.Ident}");
        }
    }

    private static async Task<HashSet<int>> ReceiveSetAsync(TestNode at, int count)
    {
        var seen = new HashSet<int>();
        while (seen.Count < count)
        {
            (Packet packet, _) = await at.ReceiveAsync($"packet {seen.Count + 1} of {count} at {at.Ident}");
            using (packet)
            {
                Assert.True(seen.Add(TestNode.SequenceOf(packet)), $"packet {TestNode.SequenceOf(packet)} arrived twice at {at.Ident}");
            }
        }

        return seen;
    }
}
