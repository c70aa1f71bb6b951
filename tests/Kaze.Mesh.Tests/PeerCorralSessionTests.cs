using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests;

/// <summary>Sessions of peers that are gone do not stay for ever.</summary>
public sealed class PeerCorralSessionTests
{
    [Fact]
    public async Task Sweep_PeerUnknown_ForgottenAfterIdleTimeout()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
        var nobody = new Ident(99);

        Assert.Equal(SendResult.Queued, a.Corral.TrySend(nobody, a.Seq(nobody, 1)));
        await Eventually.True(() => a.UndeliverableCount == 1, "the packet to be undeliverable", details: a.Describe);
        Assert.NotNull(a.Peer(nobody));

        await Eventually.True(() => a.Peer(nobody) is null, "the unknown peer to be forgotten", details: a.Describe);
    }

    [Fact]
    public async Task Sweep_PeerIdle_ForgottenThenFoundAgainOnTheNextSend()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
        await using TestNode b = await TestNode.StartAsync(2, resolver);
        await a.SendAsync(b.Ident, a.Seq(b.Ident, 1), "a packet");
        (await b.ReceiveAsync("the packet at B")).Packet.Dispose();

        // The idle connection closes; a while later the peer itself is forgotten.
        await Eventually.True(() => a.Peer(b.Ident) is null, "B to be forgotten at A", details: a.Describe);
        Assert.Equal(0, a.Counters.ConnectionsOpen);

        await a.SendAsync(b.Ident, a.Seq(b.Ident, 2), "a packet after B was forgotten");
        (Packet packet, _) = await b.ReceiveAsync("the packet after A dialled again");
        Assert.Equal(2, TestNode.SequenceOf(packet));
        packet.Dispose();
        Assert.Equal(PeerState.Connected, a.Peer(b.Ident)!.State);
        Assert.Equal(0, a.UndeliverableCount);
    }

    [Fact]
    public async Task Sweep_PeerInUse_Kept()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.IdleTimeout = TimeSpan.FromMilliseconds(400));
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        // Traffic every 50 ms for 2 s, five idle timeouts: the session stays (whatever happens to
        // the connection on a machine busy enough to stall this loop for an idle timeout).
        long until = Environment.TickCount64 + 2000;
        int sent = 0;
        for (; Environment.TickCount64 < until; sent++)
        {
            await a.SendAsync(b.Ident, a.Seq(b.Ident, sent), $"packet {sent}");
            (await b.ReceiveAsync($"packet {sent} at B")).Packet.Dispose();
            Assert.NotNull(a.Peer(b.Ident));
            await Task.Delay(50); // the pace of the traffic, not a synchronisation
        }

        // The same session throughout: a session the sweep retired would have been renewed by the
        // next send, with its counters from zero.
        PeerStatus peer = a.Peer(b.Ident)!;
        Assert.True(peer.FramesOut >= sent, $"the session for B counts {peer.FramesOut} frames out of {sent} sent: it was renewed");
    }
}
