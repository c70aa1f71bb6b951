using Kaze.Protocol;

namespace Kaze.Mesh.Tests.Infrastructure;

/// <summary>
/// Two connected corrals, A and B, with a packet each way between them already (A dialled). The
/// bad-input tests attack A with raw sockets while B's traffic must go on; the write tests use it
/// as a connected pair.
/// </summary>
internal sealed class CorralPair : IAsyncDisposable
{
    private int _sequence;

    private CorralPair(TestNode a, TestNode b)
    {
        A = a;
        B = b;
    }

    public TestNode A { get; }

    public TestNode B { get; }

    public static async Task<CorralPair> StartAsync(Action<CorralOptions>? configureA = null)
    {
        var resolver = new TestResolver();
        TestNode a = await TestNode.StartAsync(1, resolver, configureA);
        TestNode b = await TestNode.StartAsync(2, resolver);
        var mesh = new CorralPair(a, b);
        await mesh.AssertTrafficFlowsAsync();
        return mesh;
    }

    /// <summary>A packet each way between A and B, over their one connection (A dials; B answers over it).</summary>
    public async Task AssertTrafficFlowsAsync()
    {
        int n = ++_sequence;
        await A.SendAsync(B.Ident, A.Seq(B.Ident, n), "A to B");
        (Packet atB, _) = await B.ReceiveAsync($"packet {n} from A at B");
        await B.SendAsync(A.Ident, B.Seq(A.Ident, n), "B to A");
        (Packet atA, _) = await A.ReceiveAsync($"packet {n} from B at A");
        Assert.Equal(n, TestNode.SequenceOf(atB));
        Assert.Equal(n, TestNode.SequenceOf(atA));
        atB.Dispose();
        atA.Dispose();
        Assert.Equal(1, A.Counters.ConnectionAttempts);
        Assert.Equal(0, B.Counters.ConnectionAttempts);
        Assert.Equal(PeerState.Connected, A.Peer(B.Ident)!.State);
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}
