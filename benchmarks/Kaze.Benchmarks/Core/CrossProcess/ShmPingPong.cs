using System.Diagnostics;
using System.Globalization;
using Kaze.Core;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// Round trips of one message, one in flight: this process (sidecar) writes a ping on ring 0, the
/// peer (host) copies it back on ring 1. Both sides wait in the blocking <see cref="RingReader.Read"/>,
/// that is the channel's own adaptive spin then futex.
/// </summary>
internal static class ShmPingPong
{
    public const string PeerMode = "shm-echo";

    /// <param name="BlockedWaits">Waits of this side's reader that slept in the kernel (warm-up included).</param>
    /// <param name="PeerBlockedWaits">The same for the echoing peer.</param>
    public sealed record Result(LatencyStats Latency, long BlockedWaits, long PeerBlockedWaits);

    public static Result Run(int size, ChannelOptions channelOptions, int roundTrips, int warmupRoundTrips, TimeSpan minWarmup, CancellationToken ct)
    {
        string name = HarnessNames.NextChannel("rtt");
        using ShmChannel channel = ShmChannel.Create(name, channelOptions);
        using PeerProcess peer = PeerProcess.Start(PeerMode, name);
        peer.Expect("ready", HarnessTimeouts.PeerStart, ct);

        var pattern = new MessagePattern(size);
        RingWriter writer = channel.Writer;
        RingReader reader = channel.Reader;
        ulong sequence = 0;

        // Warm up both processes (tiered JIT, the adaptive spin budget, caches) with the same loop.
        long warmUntil = Stopwatch.GetTimestamp() + HarnessTimeouts.Ticks(minWarmup);
        while (sequence < (ulong)warmupRoundTrips || Stopwatch.GetTimestamp() < warmUntil)
        {
            Check(RoundTrip(writer, reader, pattern, sequence, out _), sequence);
            sequence++;
            if ((sequence & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }

        var samples = new long[roundTrips];
        for (int i = 0; i < samples.Length; i++)
        {
            Check(RoundTrip(writer, reader, pattern, sequence, out samples[i]), sequence);
            sequence++;
            if ((i & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }

        channel.Close();
        string[] done = peer.Expect("done", HarnessTimeouts.PeerFinish, ct).Split(' ');
        ulong echoed = ulong.Parse(done[0], CultureInfo.InvariantCulture);
        if (echoed != sequence)
        {
            throw new HarnessException($"round trips: sent {sequence} pings, the peer echoed {echoed}");
        }

        peer.WaitForExit(HarnessTimeouts.PeerFinish, "round trips");
        return new Result(LatencyStats.FromTicks(samples), reader.BlockedWaits, long.Parse(done[1], CultureInfo.InvariantCulture));
    }

    /// <summary>One ping and its pong: claim, write, commit (publishes); blocking read, verify, release.</summary>
    private static ChannelStatus RoundTrip(RingWriter writer, RingReader reader, MessagePattern pattern, ulong sequence, out long ticks)
    {
        long start = Stopwatch.GetTimestamp();
        ChannelStatus status = writer.TryClaim(pattern.Size, out Span<byte> payload);
        if (status != ChannelStatus.Ok)
        {
            ticks = 0;
            return status;
        }

        pattern.Write(payload, sequence);
        writer.Commit(pattern.Size);
        status = reader.Read(out ReadOnlySpan<byte> pong, HarnessTimeouts.RingWait);
        if (status != ChannelStatus.Ok)
        {
            ticks = 0;
            return status;
        }

        bool intact = pattern.IsMessage(pong, sequence);
        reader.Release();
        ticks = Stopwatch.GetTimestamp() - start;
        return intact ? ChannelStatus.Ok : ChannelStatus.Corrupt;
    }

    private static void Check(ChannelStatus status, ulong sequence)
    {
        if (status != ChannelStatus.Ok)
        {
            throw new HarnessException($"round trip {sequence}: {status}");
        }
    }

    /// <summary>The peer: echoes every record until the sidecar closes; prints <c>done COUNT BLOCKED_WAITS</c>.</summary>
    public static int Echo(string name)
    {
        using ShmChannel channel = ShmChannel.Open(name);
        Console.WriteLine("ready");
        RingReader reader = channel.Reader;
        RingWriter writer = channel.Writer;
        ulong echoed = 0;
        while (true)
        {
            ChannelStatus status = EchoOne(reader, writer);
            if (status == ChannelStatus.Closed)
            {
                break;
            }

            if (status != ChannelStatus.Ok)
            {
                Console.Error.WriteLine($"echo got {status} after {echoed} messages");
                return 1;
            }

            echoed++;
        }

        Console.WriteLine($"done {echoed} {reader.BlockedWaits}");
        return 0;
    }

    private static ChannelStatus EchoOne(RingReader reader, RingWriter writer)
    {
        ChannelStatus status = reader.Read(out ReadOnlySpan<byte> ping, HarnessTimeouts.RingWait);
        if (status != ChannelStatus.Ok)
        {
            return status;
        }

        // One message in flight: the reply ring is empty, so the claim cannot find it full.
        status = writer.TryClaim(ping.Length, out Span<byte> pong);
        if (status != ChannelStatus.Ok)
        {
            return status;
        }

        ping.CopyTo(pong);
        // Publish the pong before releasing the ping: the sidecar is waiting for the former.
        writer.Commit(ping.Length);
        reader.Release();
        return ChannelStatus.Ok;
    }
}
