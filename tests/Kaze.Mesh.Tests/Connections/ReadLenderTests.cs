using Kaze.Mesh;
using Kaze.Mesh.Connections;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests.Connections;

/// <summary>
/// Connections lend their reads to a polling thread (the host edge's reader in a sidecar; an
/// <see cref="EdgePoller"/> here): what it reads is delivered in order, and the reads come back
/// when it sleeps, when it stops polling, and on anything but packets.
/// </summary>
public sealed class ReadLenderTests
{
    // Long enough that no loan here ends by going stale, unless a test wants it to.
    private static readonly TimeSpan NeverStale = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Polling_LentReadsAreDeliveredInOrderByThePoller()
    {
        var lender = new ReadLender(NeverStale);
        await using Pair pair = await Pair.StartAsync(lender);
        using var poller = new EdgePoller(lender);
        int before = await pair.LentAsync(poller);

        await pair.SendAsync(first: 1, count: 200);

        await pair.ReceiveInOrderAsync(first: 1, count: 200);
        Assert.All(pair.B.DeliveryThreads.Skip(before), id => Assert.Equal(poller.ThreadId, id));
        Assert.Equal(200 + before, pair.B.DeliveryThreads.Count);
        Assert.Equal(1, lender.LentCount);
    }

    [Fact]
    public async Task Sleeping_GivesTheReadsBack()
    {
        var lender = new ReadLender(NeverStale);
        await using Pair pair = await Pair.StartAsync(lender);
        using var poller = new EdgePoller(lender);
        int before = await pair.LentAsync(poller);

        poller.Stop(sleeping: true);
        Assert.Equal(0, lender.LentCount);
        Assert.False(lender.IsPolling);
        await pair.SendAsync(first: 1, count: 20);

        await pair.ReceiveInOrderAsync(first: 1, count: 20);
        Assert.DoesNotContain(poller.ThreadId, pair.B.DeliveryThreads.Skip(before));
    }

    [Fact]
    public async Task PollerStopsWithoutSleeping_ConnectionTakesItsReadsBack()
    {
        // A reader held up in a pipeline step: the connection must not wait for it for long.
        var lender = new ReadLender(TimeSpan.FromMilliseconds(50));
        await using Pair pair = await Pair.StartAsync(lender);
        using var poller = new EdgePoller(lender);
        int before = await pair.LentAsync(poller);

        poller.Stop(sleeping: false);
        await pair.SendAsync(first: 1, count: 20);

        await pair.ReceiveInOrderAsync(first: 1, count: 20);
        Assert.DoesNotContain(poller.ThreadId, pair.B.DeliveryThreads.Skip(before));
        Assert.Equal(0, lender.LentCount);
        Assert.False(lender.IsPolling);
    }

    [Fact]
    public async Task GarbageWhileLent_ClosesOnlyThatConnectionAsBadFrame()
    {
        var lender = new ReadLender(NeverStale);
        await using Pair pair = await Pair.StartAsync(lender);
        using var poller = new EdgePoller(lender);
        await pair.LentAsync(poller);
        using RawPeer raw = await pair.RawPeerLentAsync();

        // A plausible length, then a header length beyond the frame.
        await raw.SendAsync([0x10, 0, 0, 0, 0xFF, 0xFF, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

        await raw.WaitClosedAsync("B to close the garbage connection");
        await Eventually.True(() => pair.B.Counters[ConnectionFailure.BadFrame] == 1, "bad_frame counted at B", details: pair.B.Describe);
        Assert.True(pair.B.Logs.Contains("bad_frame", raw.LocalEndPoint.ToString(), "ident 0.0.0.7", "header length"), pair.B.Logs.Dump());
        await pair.SendAsync(first: 1, count: 20);
        await pair.ReceiveInOrderAsync(first: 1, count: 20);
        Assert.Equal(1, lender.LentCount);
    }

    [Fact]
    public async Task PeerClosesWhileLent_ConnectionEndsAsClosedByThePeer()
    {
        var lender = new ReadLender(NeverStale);
        await using Pair pair = await Pair.StartAsync(lender);
        using var poller = new EdgePoller(lender);
        await pair.LentAsync(poller);
        RawPeer raw = await pair.RawPeerLentAsync();

        raw.Dispose();

        await Eventually.True(() => pair.B.Counters[ConnectionFailure.PeerClosed] == 1, "peer_closed counted at B", details: pair.B.Describe);
        await Eventually.True(() => pair.B.Counters.ConnectionsOpen == 1, "only A's connection left open at B", details: pair.B.Describe);
        Assert.Equal(1, lender.LentCount);
        await pair.SendAsync(first: 1, count: 20);
        await pair.ReceiveInOrderAsync(first: 1, count: 20);
    }

    [Fact]
    public async Task CorralStopsWhileLent_ConnectionsEndAndThePollerGoesOn()
    {
        var lender = new ReadLender(NeverStale);
        using var poller = new EdgePoller(lender);
        Pair pair = await Pair.StartAsync(lender);
        await pair.LentAsync(poller);

        // The poller is still polling: B's connection ends while its reads are lent.
        await pair.DisposeAsync().AsTask().Within("both corrals to stop while B's reads are lent");

        Assert.Equal(0, lender.LentCount);
        Assert.True(lender.IsPolling);
    }

    /// <summary>Corral A sends to corral B, whose connections lend their reads to <c>lender</c>.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        private Pair(TestNode a, TestNode b, ReadLender lender)
        {
            A = a;
            B = b;
            Lender = lender;
        }

        public TestNode A { get; }

        public TestNode B { get; }

        public ReadLender Lender { get; }

        public static async Task<Pair> StartAsync(ReadLender lender)
        {
            var resolver = new TestResolver();
            TestNode a = await TestNode.StartAsync(1, resolver);
            TestNode b = await TestNode.StartAsync(2, resolver, lender: lender);
            return new Pair(a, b, lender);
        }

        /// <summary>
        /// Connects A to B with packet 0 and waits until B's connection has lent its reads to
        /// <paramref name="poller"/>. A connection decides whether to lend when it is about to
        /// wait for bytes: if the poller had not polled within the stale time just then (a loaded
        /// machine), it waits on its own until the next packet. So packet 0 is sent again, each
        /// time after a bounded wait for the loan, until the connection lends.
        /// </summary>
        /// <returns>How many times packet 0 was sent (and delivered).</returns>
        public async Task<int> LentAsync(EdgePoller poller)
        {
            int sent = 0;
            string what = $"B's connection to lend its reads to the poller (thread {poller.ThreadId})";
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                await SendAsync(first: 0, count: 1);
                await ReceiveInOrderAsync(first: 0, count: 1);
                sent++;
                TimeSpan left = Deadline.Default - deadline.Elapsed;
                bool last = left <= TimeSpan.FromSeconds(1);
                try
                {
                    await Eventually.True(() => Lender.LentCount == 1 && Lender.IsPolling, what, TimeSpan.FromSeconds(1), details: B.Describe);
                    return sent;
                }
                catch (Xunit.Sdk.XunitException) when (!last)
                {
                    // Not lent yet: the next packet wakes the connection, which decides again.
                }
            }
        }

        public async Task SendAsync(int first, int count)
        {
            for (int i = first; i < first + count; i++)
            {
                await A.SendAsync(B.Ident, A.Seq(B.Ident, i), $"packet {i} from A to B");
            }
        }

        public Task ReceiveInOrderAsync(int first, int count) => TestNode.ReceiveInOrderAsync(B, A.Ident, count, first);

        /// <summary>A raw peer (ident 0.0.0.7) connected to B, once its connection has lent its reads too.</summary>
        public async Task<RawPeer> RawPeerLentAsync()
        {
            RawPeer raw = await RawPeer.ConnectAsync(B.EndPoint);
            await raw.HelloAsync(new Ident(7));
            await Eventually.True(() => Lender.LentCount == 2, "the raw peer's connection to lend its reads too", details: B.Describe);
            return raw;
        }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    /// <summary>Stands in for the host edge's reader: a thread that polls the lender until stopped.</summary>
    private sealed class EdgePoller : IDisposable
    {
        private readonly ReadLender _lender;
        private readonly Thread _thread;
        private volatile bool _stop;
        private volatile bool _sleepWhenStopped;

        public EdgePoller(ReadLender lender)
        {
            _lender = lender;
            _thread = new Thread(Run) { IsBackground = true, Name = "test-edge-poller" };
            _thread.Start();
        }

        public int ThreadId => _thread.ManagedThreadId;

        /// <summary>Stops polling; with <paramref name="sleeping"/>, tells the lender so first (as the edge's reader does before it sleeps).</summary>
        public void Stop(bool sleeping)
        {
            _sleepWhenStopped = sleeping;
            _stop = true;
            if (!_thread.Join(Deadline.Default))
            {
                throw new TimeoutException($"The edge poller thread did not stop within {Deadline.Default.TotalSeconds} s.");
            }
        }

        public void Dispose()
        {
            if (!_stop)
            {
                Stop(sleeping: true);
            }
        }

        private void Run()
        {
            while (!_stop)
            {
                _lender.Poll();
                Thread.Yield();
            }

            if (_sleepWhenStopped)
            {
                _lender.Sleeping();
            }
        }
    }
}
