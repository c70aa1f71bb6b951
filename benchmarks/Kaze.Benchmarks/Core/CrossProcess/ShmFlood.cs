using System.Diagnostics;
using System.Globalization;
using Kaze.Core;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// One-way flood sidecar → host: this process writes fixed-size messages as fast as the ring
/// takes them, the peer reads and verifies every one. The writer commits without publishing and
/// publishes once per batch (or when the ring is full, inside <see cref="RingWriter.Claim"/>);
/// the reader reads up to a batch and releases once.
/// </summary>
internal static class ShmFlood
{
    public const string PeerMode = "shm-flood-read";

    public sealed record Result(double MessagesPerSecond, long MessagesVerified, long WriterBlockedWaits, long ReaderBlockedWaits);

    public static Result Run(int size, int batch, ChannelOptions channelOptions, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        string name = HarnessNames.NextChannel("flood" + size.ToString(CultureInfo.InvariantCulture));
        using ShmChannel channel = ShmChannel.Create(name, channelOptions);
        using PeerProcess peer = PeerProcess.Start(PeerMode, name, Inv(size), Inv(batch));
        peer.Expect("ready", HarnessTimeouts.PeerStart, ct);

        var pattern = new MessagePattern(size);
        RingWriter writer = channel.Writer;
        ulong sent = 0;
        long start = Stopwatch.GetTimestamp();
        long measureFrom = start + HarnessTimeouts.Ticks(warmup);
        long measureTo = measureFrom + HarnessTimeouts.Ticks(duration);
        long markTime = 0;
        ulong markSent = 0;
        bool measuring = false;
        while (true)
        {
            ChannelStatus status = WriteBatch(writer, pattern, batch, ref sent);
            if (status != ChannelStatus.Ok)
            {
                throw new HarnessException($"flood {size} B: the writer got {status} after {sent} messages");
            }

            long now = Stopwatch.GetTimestamp();
            if (!measuring)
            {
                if (now >= measureFrom)
                {
                    measuring = true;
                    markTime = now;
                    markSent = sent;
                }
            }
            else if (now >= measureTo)
            {
                double seconds = (now - markTime) / (double)Stopwatch.Frequency;
                double rate = (sent - markSent) / seconds;
                // Everything is published; the peer reads the rest, then sees Closed.
                channel.Close();
                string[] done = peer.Expect("done", HarnessTimeouts.PeerFinish, ct).Split(' ');
                ulong received = ulong.Parse(done[0], CultureInfo.InvariantCulture);
                if (received != sent)
                {
                    throw new HarnessException($"flood {size} B: wrote {sent} messages, the peer verified {received}");
                }

                peer.WaitForExit(HarnessTimeouts.PeerFinish, $"flood {size} B");
                return new Result(rate, (long)received, writer.BlockedWaits, long.Parse(done[1], CultureInfo.InvariantCulture));
            }

            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Writes <paramref name="batch"/> messages with one publish; waits (and publishes) only when the ring is full.</summary>
    private static ChannelStatus WriteBatch(RingWriter writer, MessagePattern pattern, int batch, ref ulong sequence)
    {
        int size = pattern.Size;
        for (int i = 0; i < batch; i++)
        {
            ChannelStatus status = writer.TryClaim(size, out Span<byte> payload);
            if (status != ChannelStatus.Ok)
            {
                if (status != ChannelStatus.Full)
                {
                    return status;
                }

                // Claim publishes what is pending before it waits: the reader may be waiting for it.
                status = writer.Claim(size, out payload, HarnessTimeouts.RingWait);
                if (status != ChannelStatus.Ok)
                {
                    return status;
                }
            }

            pattern.Write(payload, sequence++);
            writer.Commit(size, publish: false);
        }

        writer.Publish();
        return ChannelStatus.Ok;
    }

    /// <summary>The peer: reads and verifies until the writer closes; prints <c>done COUNT BLOCKED_WAITS</c>.</summary>
    public static int Receive(string name, int size, int batch)
    {
        using ShmChannel channel = ShmChannel.Open(name);
        Console.WriteLine("ready");
        var pattern = new MessagePattern(size);
        RingReader reader = channel.Reader;
        ulong received = 0;
        while (true)
        {
            ChannelStatus status = ReadBatch(reader, pattern, batch, ref received);
            if (status == ChannelStatus.Ok)
            {
                continue;
            }

            if (status == ChannelStatus.Empty)
            {
                // Releases what we hold before it waits: the writer may be waiting for that space.
                status = reader.WaitToRead(HarnessTimeouts.RingWait);
                if (status == ChannelStatus.Ok)
                {
                    continue;
                }
            }

            if (status == ChannelStatus.Closed)
            {
                break;
            }

            Console.Error.WriteLine(status == ChannelStatus.Corrupt
                ? $"message {received} is not what was written (or the ring is corrupt)"
                : $"reader got {status} after {received} messages");
            return 1;
        }

        Console.WriteLine($"done {received} {reader.BlockedWaits}");
        return 0;
    }

    /// <summary>Reads and verifies up to <paramref name="batch"/> records, then releases them all at once.</summary>
    private static ChannelStatus ReadBatch(RingReader reader, MessagePattern pattern, int batch, ref ulong received)
    {
        ChannelStatus status = ChannelStatus.Ok;
        for (int i = 0; i < batch; i++)
        {
            status = reader.TryRead(out ReadOnlySpan<byte> record);
            if (status != ChannelStatus.Ok)
            {
                break;
            }

            if (!pattern.IsMessage(record, received))
            {
                status = ChannelStatus.Corrupt;
                break;
            }

            received++;
        }

        reader.Release();
        return status;
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}
