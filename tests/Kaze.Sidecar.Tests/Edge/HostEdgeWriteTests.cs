using Kaze.Core;
using Kaze.Edge;
using Kaze.Protocol;

namespace Kaze.Sidecar.Tests.Edge;

/// <summary>The edge's writes to the host when one goes wrong: only that packet is lost, and the ring goes on.</summary>
public sealed class HostEdgeWriteTests
{
    [Fact]
    public async Task TrySend_HeaderChangedWhileQueued_DropsOnlyThatPacketAndTheRingGoesOn()
    {
        string name = $"edge-wfail-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
        await using HostEdge edge = HostEdge.Create(name, new EdgeOptions { Channel = new ChannelOptions { SidecarToHostCapacity = 4096 } });
        using ShmChannel host = ShmChannel.Open(name);
        edge.Start(packet => packet.Dispose());
        byte[] body = new byte[200];

        // Fill the ring to the host until a packet has to wait in the edge's queue.
        var sent = new List<string>();
        Packet? queued = null;
        while (edge.Counters.Queued == 0)
        {
            Assert.True(sent.Count < 100, "the ring to the host never filled");
            string bodyType = $"fill{sent.Count}";
            queued = Packet.Create(Hdr.CreateNotify(Ident.Any, bodyType), body);
            Assert.True(edge.TrySend(queued));
            sent.Add(bodyType);
        }

        // A bug: the queued packet's header changes after it was sent, so it no longer encodes to
        // the size the edge computed. Another packet queues behind it.
        queued!.Header.BodyType = "a body type far longer than the one it had when it was sent";
        Assert.True(edge.TrySend(Packet.Create(Hdr.CreateNotify(Ident.Any, "after"), body)));

        // The host reads: every packet but the changed one arrives, the one behind it included.
        var received = new List<string>();
        while (!received.Contains("after"))
        {
            ChannelStatus status = host.Reader.WaitToRead(TimeSpan.FromSeconds(10));
            Assert.True(status == ChannelStatus.Ok, $"the host's ring to hold more packets after {received.Count} ({string.Join(", ", received)}): {status}");
            while (host.Reader.TryRead(out ReadOnlySpan<byte> record) == ChannelStatus.Ok)
            {
                Assert.True(RingFraming.TryDecode(record, out Hdr? header, out _, out _));
                received.Add(header.BodyType);
            }

            host.Reader.Release();
        }

        Assert.Equal([.. sent[..^1], "after"], received);
        Assert.Equal(1, edge.Counters.DroppedTooLargeForRing);
    }
}
