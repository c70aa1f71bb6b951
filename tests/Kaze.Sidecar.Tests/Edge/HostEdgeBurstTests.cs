using Kaze.Core;
using Kaze.Edge;
using Kaze.Protocol;

namespace Kaze.Sidecar.Tests.Edge;

/// <summary>
/// The edge's bursts: a run of packets the reader finds waiting is bracketed by the burst
/// callbacks (the sidecar batches its network sends there), at most ReleaseBatch packets per
/// burst, and every burst is closed before the reader waits.
/// </summary>
public sealed class HostEdgeBurstTests
{
    [Fact]
    public async Task Start_PacketsWaiting_EachRunIsOneBurstOfAtMostReleaseBatch()
    {
        string name = $"edge-burst-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
        var events = new List<string>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int received = 0;
        await using HostEdge edge = HostEdge.Create(name, new EdgeOptions { ReleaseBatch = 8 });
        using ShmChannel host = ShmChannel.Open(name);
        // 20 packets wait before the reader starts: bursts of 8, 8 and 4.
        WritePackets(host, 0, 20);
        edge.Start(
            packet =>
            {
                lock (events)
                {
                    events.Add(packet.Header.BodyType);
                    received++;
                    if (received == 21)
                    {
                        second.TrySetResult();
                    }
                }

                packet.Dispose();
            },
            () =>
            {
                lock (events)
                {
                    events.Add("begin");
                }
            },
            () =>
            {
                lock (events)
                {
                    events.Add("end");
                    if (received == 20)
                    {
                        all.TrySetResult();
                    }
                }
            });
        // The reader closes the third burst when it finds the ring empty, before it waits.
        await all.Task.Within("the edge to hand on the 20 waiting packets and close its burst");
        // A later packet opens a new burst.
        WritePackets(host, 20, 1);
        await second.Task.Within("the edge to hand on the 21st packet");

        string[] expected =
        [
            "begin", .. Range(0, 8), "end",
            "begin", .. Range(8, 8), "end",
            "begin", .. Range(16, 4), "end",
            "begin", "p20",
        ];
        lock (events)
        {
            Assert.Equal(expected, events.Take(expected.Length));
        }
    }

    [Fact]
    public async Task Start_OneBurstCallbackOnly_IsRefused()
    {
        string name = $"edge-burst1-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
        await using HostEdge edge = HostEdge.Create(name);
        Assert.Throws<ArgumentException>(() => edge.Start(packet => packet.Dispose(), () => { }, null));
    }

    private static IEnumerable<string> Range(int start, int count) => Enumerable.Range(start, count).Select(i => $"p{i}");

    private static void WritePackets(ShmChannel host, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            Hdr header = Hdr.CreateNotify(new Ident(1), $"p{i}");
            byte[] record = new byte[RingFraming.GetPayloadSize(header, 0)];
            RingFraming.Write(record, header, ReadOnlySpan<byte>.Empty);
            Assert.Equal(ChannelStatus.Ok, host.Writer.TryWrite(record));
        }
    }
}
