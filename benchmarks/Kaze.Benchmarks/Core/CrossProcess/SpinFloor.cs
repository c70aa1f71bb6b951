using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// The floor under any shared-memory round trip on this machine: two processes bounce a counter
/// through two words of a mapped file, 128 bytes apart, busy-spinning with no pause, no ring
/// and no waiting policy. Whatever the ring's round trip adds on top of this is the ring's own.
/// </summary>
internal static unsafe class SpinFloor
{
    public const string PeerMode = "spin-floor-echo";

    private const int PingOffset = 0;
    private const int PongOffset = 128;
    private const int FileSize = 4096;

    public static LatencyStats Run(int roundTrips, int warmupRoundTrips, CancellationToken ct)
    {
        string path = Path.Combine("/dev/shm", "kaze-" + HarnessNames.NextChannel("floor"));
        try
        {
            using (FileStream create = new(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.None))
            {
                create.SetLength(FileSize);
            }

            using MemoryMappedFile file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, FileSize, MemoryMappedFileAccess.ReadWrite);
            using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, FileSize, MemoryMappedFileAccess.ReadWrite);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            try
            {
                long* ping = (long*)(p + view.PointerOffset + PingOffset);
                long* pong = (long*)(p + view.PointerOffset + PongOffset);
                using PeerProcess peer = PeerProcess.Start(PeerMode, path);
                peer.Expect("ready", HarnessTimeouts.PeerStart, ct);
                long limit = HarnessTimeouts.Ticks(HarnessTimeouts.RingWait);
                long sequence = 0;
                for (int i = 0; i < warmupRoundTrips; i++)
                {
                    RoundTrip(ping, pong, ++sequence, limit);
                }

                var samples = new long[roundTrips];
                for (int i = 0; i < samples.Length; i++)
                {
                    samples[i] = RoundTrip(ping, pong, ++sequence, limit);
                    if ((i & 1023) == 0)
                    {
                        ct.ThrowIfCancellationRequested();
                    }
                }

                // -1 tells the peer to stop.
                Volatile.Write(ref *ping, -1);
                long echoed = long.Parse(peer.Expect("done", HarnessTimeouts.PeerFinish, ct), CultureInfo.InvariantCulture);
                if (echoed != sequence)
                {
                    throw new HarnessException($"spin floor: sent {sequence}, the peer echoed {echoed}");
                }

                peer.WaitForExit(HarnessTimeouts.PeerFinish, "spin floor");
                return LatencyStats.FromTicks(samples);
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static long RoundTrip(long* ping, long* pong, long sequence, long limit)
    {
        long start = Stopwatch.GetTimestamp();
        Volatile.Write(ref *ping, sequence);
        int spins = 0;
        while (Volatile.Read(ref *pong) != sequence)
        {
            if (++spins == 1 << 20)
            {
                spins = 0;
                if (Stopwatch.GetTimestamp() - start > limit)
                {
                    throw new HarnessException($"spin floor: no pong {sequence} within {HarnessTimeouts.RingWait.TotalSeconds:0} s");
                }
            }
        }

        return Stopwatch.GetTimestamp() - start;
    }

    /// <summary>The peer: copies every new ping into the pong word until it reads -1; prints <c>done LAST</c>.</summary>
    public static int Echo(string path)
    {
        using MemoryMappedFile file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, FileSize, MemoryMappedFileAccess.ReadWrite);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, FileSize, MemoryMappedFileAccess.ReadWrite);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        try
        {
            long* ping = (long*)(p + view.PointerOffset + PingOffset);
            long* pong = (long*)(p + view.PointerOffset + PongOffset);
            Console.WriteLine("ready");
            long last = 0;
            long idleSince = Stopwatch.GetTimestamp();
            long limit = HarnessTimeouts.Ticks(HarnessTimeouts.RingWait);
            int spins = 0;
            while (true)
            {
                long seen = Volatile.Read(ref *ping);
                if (seen == -1)
                {
                    break;
                }

                if (seen != last)
                {
                    last = seen;
                    Volatile.Write(ref *pong, seen);
                    idleSince = Stopwatch.GetTimestamp();
                    spins = 0;
                }
                else if (++spins == 1 << 20)
                {
                    spins = 0;
                    if (Stopwatch.GetTimestamp() - idleSince > limit)
                    {
                        Console.Error.WriteLine($"no ping for {HarnessTimeouts.RingWait.TotalSeconds:0} s after {last}");
                        return 1;
                    }
                }
            }

            Console.WriteLine($"done {last}");
            return 0;
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }
}
