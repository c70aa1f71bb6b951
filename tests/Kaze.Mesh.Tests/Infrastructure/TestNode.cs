using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Kaze.Mesh;
using Kaze.Mesh.Connections;
using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Mesh.Tests.Infrastructure;

/// <summary>One corral on loopback with its inbox, its undeliverable packets and its log.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    public const string SeqBodyType = "test.seq";

    private readonly Channel<(Packet Packet, Ident From)> _inbox = Channel.CreateUnbounded<(Packet, Ident)>();
    private readonly ConcurrentQueue<(Packet Packet, string Reason)> _undeliverable = new();
    private readonly ConcurrentQueue<int> _deliveryThreads = new();
    private bool _disposed;

    private TestNode(Ident ident, CorralOptions options)
    {
        Ident = ident;
        Options = options;
    }

    public Ident Ident { get; }

    public CorralOptions Options { get; }

    public PeerCorral Corral { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public CorralCounters Counters => Corral.Counters;

    public IPEndPoint EndPoint => Corral.LocalEndPoint;

    public int UndeliverableCount => _undeliverable.Count;

    /// <summary>The managed thread id that delivered each packet, in delivery order.</summary>
    public IReadOnlyList<int> DeliveryThreads => [.. _deliveryThreads];

    public IReadOnlyList<string> UndeliverableReasons => [.. _undeliverable.Select(u => u.Reason)];

    /// <summary>Options for tests: loopback, port 0, short waits.</summary>
    public static CorralOptions DefaultOptions() => new()
    {
        Listen = new NodeAddress("127.0.0.1", 0),
        ReconnectMin = TimeSpan.FromMilliseconds(20),
        ReconnectMax = TimeSpan.FromMilliseconds(200),
        CloseTimeout = TimeSpan.FromMilliseconds(500),
    };

    /// <param name="gate">If given, each packet's delivery waits until the gate is open (at most <see cref="Deadline.Default"/>): a host that stopped reading.</param>
    /// <param name="lender">If given, the connections lend their reads to whoever polls it (as to a host edge's reader).</param>
    public static async Task<TestNode> StartAsync(uint ident, TestResolver resolver, Action<CorralOptions>? configure = null, ManualResetEventSlim? gate = null, ReadLender? lender = null)
    {
        CorralOptions options = DefaultOptions();
        configure?.Invoke(options);
        var node = new TestNode(new Ident(ident), options);
        node.Corral = new PeerCorral(
            options,
            node.Ident,
            resolver,
            (packet, from) =>
            {
                node._deliveryThreads.Enqueue(Environment.CurrentManagedThreadId);
                gate?.Wait(Deadline.Default);
                node._inbox.Writer.TryWrite((packet, from));
            },
            (packet, reason) => node._undeliverable.Enqueue((packet, reason)),
            node.Logs)
        {
            Lender = lender,
        };
        await node.Corral.StartAsync(CancellationToken.None);
        resolver.Set(node.Ident, node.EndPoint);
        return node;
    }

    /// <summary>A notify carrying <paramref name="sequence"/>, stamped with this node as the sender.</summary>
    public Packet Seq(Ident to, int sequence, int padding = 0)
    {
        Hdr header = Hdr.CreateNotify(to, SeqBodyType);
        header.SrcIdent = Ident.Value;
        byte[] body = new byte[sizeof(int) + padding];
        BinaryPrimitives.WriteInt32LittleEndian(body, sequence);
        return Packet.Create(header, body);
    }

    public static int SequenceOf(Packet packet) => BinaryPrimitives.ReadInt32LittleEndian(packet.BodySpan);

    /// <summary>Receives <paramref name="count"/> packets at <paramref name="at"/>, asserting they come from <paramref name="from"/> numbered <paramref name="first"/>, first + 1… in order.</summary>
    public static async Task ReceiveInOrderAsync(TestNode at, Ident from, int count, int first = 0)
    {
        for (int expected = first; expected < first + count; expected++)
        {
            (Packet packet, Ident sender) = await at.ReceiveAsync($"packet {expected} from {from} at {at.Ident}");
            using (packet)
            {
                Assert.Equal(from, sender);
                Assert.Equal(expected, SequenceOf(packet));
            }
        }
    }

    /// <summary>Sends, retrying while the peer's queue is full (flow control, not synchronisation).</summary>
    public async Task SendAsync(Ident to, Packet packet, string what)
    {
        long deadline = Environment.TickCount64 + (long)Deadline.Default.TotalMilliseconds;
        SendResult result;
        while ((result = Corral.TrySend(to, packet)) == SendResult.QueueFull)
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new Xunit.Sdk.XunitException($"The queue for {to} stayed full for {Deadline.Default.TotalSeconds} s while sending {what}.");
            }

            await Task.Delay(1);
        }

        if (result != SendResult.Queued)
        {
            packet.Dispose();
            throw new Xunit.Sdk.XunitException($"TrySend to {to} returned {result} while sending {what}.");
        }
    }

    public async Task<(Packet Packet, Ident From)> ReceiveAsync(string what, TimeSpan? timeout = null) =>
        await _inbox.Reader.ReadAsync().AsTask().Within(what, timeout);

    public bool TryReceive(out (Packet Packet, Ident From) item) => _inbox.Reader.TryRead(out item);

    public PeerStatus? Peer(Ident ident) => Corral.Peers.FirstOrDefault(p => p.Ident == ident);

    public string Describe() =>
        $"{Ident}: open {Counters.ConnectionsOpen}, attempts {Counters.ConnectionAttempts}, accepted {Counters.ConnectionsAccepted}, " +
        $"established {Counters.ConnectionsEstablished}, failures [{string.Join(", ", ConnectionFailureExtensions.All.Select(f => $"{f.ToMetricName()}={Counters[f]}"))}], " +
        $"peers [{string.Join("; ", Corral.Peers)}]{Environment.NewLine}{Logs.Dump()}";

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await Corral.DisposeAsync();
        while (_inbox.Reader.TryRead(out var item))
        {
            item.Packet.Dispose();
        }

        while (_undeliverable.TryDequeue(out var item))
        {
            item.Packet.Dispose();
        }
    }
}
