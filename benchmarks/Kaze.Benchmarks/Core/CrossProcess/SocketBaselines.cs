using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// The same measurements over sockets between the same two processes, as the baseline: frames
/// <c>[u32 LE length][payload]</c> with the same payload and verification as the ring.
/// </summary>
internal static class SocketBaselines
{
    public const string UdsFloodMode = "uds-flood-read";
    public const string UdsEchoMode = "uds-echo";
    public const string TcpEchoMode = "tcp-echo";
    public const string TcpBatchEchoMode = "tcp-echo-batch";
    public const string TcpSinkMode = "tcp-sink";

    /// <summary>Frames per send() in the batched flood: about 68 KiB for 64-byte payloads, what a real batching writer would hand the kernel.</summary>
    public const int BatchedFramesPerSend = 1024;

    public sealed record FloodResult(double MessagesPerSecond, long MessagesVerified);

    /// <summary>One-way flood over a Unix domain socket: <paramref name="framesPerSend"/> frames per send() here; the peer parses, verifies and counts.</summary>
    public static FloodResult UdsFlood(int size, int framesPerSend, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        string path = HarnessNames.NextSocketPath("flood");
        try
        {
            using Socket listener = ListenUnix(path);
            using PeerProcess peer = PeerProcess.Start(UdsFloodMode, path, Inv(size));
            using Socket socket = Accept(listener, ct);
            peer.Expect("ready", HarnessTimeouts.PeerStart, ct);

            var pattern = new MessagePattern(size);
            int frame = 4 + size;
            byte[] buffer = new byte[frame * framesPerSend];
            for (int i = 0; i < framesPerSend; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(i * frame), size);
            }

            ulong sent = 0;
            long measureFrom = Stopwatch.GetTimestamp() + HarnessTimeouts.Ticks(warmup);
            long measureTo = measureFrom + HarnessTimeouts.Ticks(duration);
            long markTime = 0;
            ulong markSent = 0;
            bool measuring = false;
            while (true)
            {
                for (int i = 0; i < framesPerSend; i++)
                {
                    pattern.Write(buffer.AsSpan(i * frame + 4, size), sent++);
                }

                SendAll(socket, buffer);
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
                    double rate = (sent - markSent) / ((now - markTime) / (double)Stopwatch.Frequency);
                    socket.Shutdown(SocketShutdown.Send);
                    ulong received = ulong.Parse(peer.Expect("done", HarnessTimeouts.PeerFinish, ct), CultureInfo.InvariantCulture);
                    if (received != sent)
                    {
                        throw new HarnessException($"UDS flood: sent {sent} messages, the peer verified {received}");
                    }

                    peer.WaitForExit(HarnessTimeouts.PeerFinish, "UDS flood");
                    return new FloodResult(rate, (long)received);
                }

                ct.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The flood's peer: receives in large reads, parses frames across read boundaries; prints <c>done COUNT</c>.</summary>
    public static int UdsFloodReceive(string path, int size)
    {
        using Socket socket = ConnectUnix(path);
        Console.WriteLine("ready");
        var pattern = new MessagePattern(size);
        byte[] buffer = new byte[256 * 1024];
        int filled = 0;
        ulong received = 0;
        while (true)
        {
            int n = socket.Receive(buffer.AsSpan(filled));
            if (n == 0)
            {
                break;
            }

            filled += n;
            int consumed = ParseFrames(buffer.AsSpan(0, filled), pattern, ref received);
            if (consumed < 0)
            {
                Console.Error.WriteLine($"message {received} is not what was written");
                return 1;
            }

            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
        }

        if (filled != 0)
        {
            Console.Error.WriteLine($"stream ended inside a frame ({filled} bytes left)");
            return 1;
        }

        Console.WriteLine($"done {received}");
        return 0;
    }

    /// <summary>Verifies every whole frame; returns the bytes consumed, or -1 on a bad frame.</summary>
    private static int ParseFrames(ReadOnlySpan<byte> data, MessagePattern pattern, ref ulong received)
    {
        int offset = 0;
        while (data.Length - offset >= 4)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);
            if (length != pattern.Size)
            {
                return -1;
            }

            if (data.Length - offset - 4 < length)
            {
                break;
            }

            if (!pattern.IsMessage(data.Slice(offset + 4, length), received))
            {
                return -1;
            }

            received++;
            offset += 4 + length;
        }

        return offset;
    }

    /// <summary>Round trips over a Unix domain socket, one in flight, blocking send/receive.</summary>
    public static LatencyStats UdsRoundTrips(int size, int roundTrips, int warmupRoundTrips, CancellationToken ct)
    {
        string path = HarnessNames.NextSocketPath("rtt");
        try
        {
            using Socket listener = ListenUnix(path);
            using PeerProcess peer = PeerProcess.Start(UdsEchoMode, path, Inv(size));
            using Socket socket = Accept(listener, ct);
            return PingPong(socket, peer, "UDS", size, roundTrips, warmupRoundTrips, ct);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Round trips over TCP loopback with Nagle off on both ends.</summary>
    public static LatencyStats TcpRoundTrips(int size, int roundTrips, int warmupRoundTrips, CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using PeerProcess peer = PeerProcess.Start(TcpEchoMode, Inv(port), Inv(size));
        using Socket socket = Accept(listener, ct);
        socket.NoDelay = true;
        return PingPong(socket, peer, "TCP", size, roundTrips, warmupRoundTrips, ct);
    }

    private static LatencyStats PingPong(Socket socket, PeerProcess peer, string transport, int size, int roundTrips, int warmupRoundTrips, CancellationToken ct)
    {
        peer.Expect("ready", HarnessTimeouts.PeerStart, ct);
        var pattern = new MessagePattern(size);
        byte[] ping = new byte[4 + size];
        byte[] pong = new byte[4 + size];
        BinaryPrimitives.WriteInt32LittleEndian(ping, size);
        ulong sequence = 0;
        for (int i = 0; i < warmupRoundTrips; i++)
        {
            RoundTrip(socket, ping, pong, pattern, sequence++, transport);
        }

        var samples = new long[roundTrips];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = RoundTrip(socket, ping, pong, pattern, sequence++, transport);
            if ((i & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }

        socket.Shutdown(SocketShutdown.Send);
        ulong echoed = ulong.Parse(peer.Expect("done", HarnessTimeouts.PeerFinish, ct), CultureInfo.InvariantCulture);
        if (echoed != sequence)
        {
            throw new HarnessException($"{transport} round trips: sent {sequence}, the peer echoed {echoed}");
        }

        peer.WaitForExit(HarnessTimeouts.PeerFinish, transport + " round trips");
        return LatencyStats.FromTicks(samples);
    }

    private static long RoundTrip(Socket socket, byte[] ping, byte[] pong, MessagePattern pattern, ulong sequence, string transport)
    {
        long start = Stopwatch.GetTimestamp();
        pattern.Write(ping.AsSpan(4), sequence);
        SendAll(socket, ping);
        if (!ReceiveExactly(socket, pong)
            || BinaryPrimitives.ReadInt32LittleEndian(pong) != pattern.Size
            || !pattern.IsMessage(pong.AsSpan(4), sequence))
        {
            throw new HarnessException($"{transport} round trip {sequence}: the pong is missing or differs from the ping");
        }

        return Stopwatch.GetTimestamp() - start;
    }

    /// <summary>
    /// Calls per second over TCP loopback with <paramref name="depth"/> in flight: the best a plain
    /// socket pair does with batching on both ends. This end sends <paramref name="depth"/> frames,
    /// then, after each read, as many new ones as complete answers arrived, in one send; the peer
    /// (<see cref="BatchEcho"/>) answers every whole frame of a read in one send. Frames are
    /// verified in order on this end.
    /// </summary>
    public static double TcpPipelined(int size, int calls, int depth, CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using PeerProcess peer = PeerProcess.Start(TcpBatchEchoMode, Inv(port), Inv(size));
        using Socket socket = Accept(listener, ct);
        socket.NoDelay = true;
        peer.Expect("ready", HarnessTimeouts.PeerStart, ct);

        var pattern = new MessagePattern(size);
        int frame = 4 + size;
        byte[] output = new byte[frame * depth];
        byte[] input = new byte[Math.Max(64 * 1024, frame * depth)];
        int filled = 0;
        ulong sent = 0;
        ulong answered = 0;
        long reads = 0;
        long start = Stopwatch.GetTimestamp();
        SendFrames(socket, output, pattern, ref sent, Math.Min(depth, calls));
        while (answered < (ulong)calls)
        {
            int n = socket.Receive(input.AsSpan(filled));
            if (n == 0)
            {
                throw new HarnessException($"TCP pipelined: the peer closed after {answered} answers");
            }

            filled += n;
            ulong before = answered;
            int consumed = ParseFrames(input.AsSpan(0, filled), pattern, ref answered);
            if (consumed < 0)
            {
                throw new HarnessException($"TCP pipelined: answer {answered} is not what was sent");
            }

            input.AsSpan(consumed, filled - consumed).CopyTo(input);
            filled -= consumed;
            int more = (int)Math.Min(answered - before, (ulong)calls - sent);
            SendFrames(socket, output, pattern, ref sent, more);
            if ((++reads & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }

        double rate = calls / Stopwatch.GetElapsedTime(start).TotalSeconds;
        socket.Shutdown(SocketShutdown.Send);
        ulong echoed = ulong.Parse(peer.Expect("done", HarnessTimeouts.PeerFinish, ct), CultureInfo.InvariantCulture);
        if (echoed != sent)
        {
            throw new HarnessException($"TCP pipelined: sent {sent}, the peer echoed {echoed}");
        }

        peer.WaitForExit(HarnessTimeouts.PeerFinish, "TCP pipelined");
        return rate;
    }

    /// <summary>
    /// Payload bytes per second one way over TCP loopback, <paramref name="depth"/> frames of
    /// <paramref name="size"/> bytes in flight: this end sends frames; the peer (<see cref="Sink"/>)
    /// reads them whole and answers each read with one byte per frame it completed, in one send;
    /// this end sends as many new frames as bytes came back. Measured over <paramref name="duration"/>
    /// after <paramref name="warmup"/>.
    /// </summary>
    public static double TcpOneWayBytesPerSecond(int size, int depth, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using PeerProcess peer = PeerProcess.Start(TcpSinkMode, Inv(port), Inv(size));
        using Socket socket = Accept(listener, ct);
        socket.NoDelay = true;
        peer.Expect("ready", HarnessTimeouts.PeerStart, ct);

        byte[] frame = new byte[4 + size];
        BinaryPrimitives.WriteInt32LittleEndian(frame, size);
        Random.Shared.NextBytes(frame.AsSpan(4));
        byte[] acks = new byte[4096];
        long sent = 0;
        long acked = 0;
        for (int i = 0; i < depth; i++)
        {
            SendAll(socket, frame);
            sent++;
        }

        long measureFrom = Stopwatch.GetTimestamp() + HarnessTimeouts.Ticks(warmup);
        long end = measureFrom + HarnessTimeouts.Ticks(duration);
        long ackedAtStart = -1;
        long startTicks = 0;
        long now;
        while ((now = Stopwatch.GetTimestamp()) < end)
        {
            if (ackedAtStart < 0 && now >= measureFrom)
            {
                ackedAtStart = acked;
                startTicks = now;
            }

            int n = socket.Receive(acks);
            if (n == 0)
            {
                throw new HarnessException($"TCP one way: the peer closed after {acked} frames");
            }

            acked += n;
            for (int i = 0; i < n; i++)
            {
                SendAll(socket, frame);
                sent++;
            }

            ct.ThrowIfCancellationRequested();
        }

        double seconds = Stopwatch.GetElapsedTime(startTicks).TotalSeconds;
        double rate = (acked - Math.Max(0, ackedAtStart)) * (double)size / seconds;
        socket.Shutdown(SocketShutdown.Send);
        ulong received = ulong.Parse(peer.Expect("done", HarnessTimeouts.PeerFinish, ct), CultureInfo.InvariantCulture);
        if (received != (ulong)sent)
        {
            throw new HarnessException($"TCP one way: sent {sent} frames, the peer received {received}");
        }

        peer.WaitForExit(HarnessTimeouts.PeerFinish, "TCP one way");
        return rate;
    }

    /// <summary>The one-way peer: reads frames of <paramref name="size"/> bytes, answers one byte per frame completed by a read, until the other end shuts down; prints <c>done COUNT</c>.</summary>
    public static int Sink(int port, int size)
    {
        using Socket socket = ConnectTcp(port);
        Console.WriteLine("ready");
        int frame = 4 + size;
        byte[] buffer = new byte[Math.Max(256 * 1024, frame)];
        byte[] acks = new byte[buffer.Length / frame + 1];
        int partial = 0; // bytes of the current frame already read (its header first)
        byte[] header = new byte[4];
        ulong received = 0;
        while (true)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
            {
                break;
            }

            int completed = 0;
            for (int at = 0; at < n;)
            {
                int take = Math.Min(n - at, frame - partial);
                for (int h = partial; h < 4 && h - partial < take; h++)
                {
                    header[h] = buffer[at + h - partial];
                }

                partial += take;
                at += take;
                if (partial == frame)
                {
                    if (BinaryPrimitives.ReadInt32LittleEndian(header) != size)
                    {
                        throw new HarnessException($"TCP sink: frame {received} has length {BinaryPrimitives.ReadInt32LittleEndian(header)}, not {size}");
                    }

                    partial = 0;
                    completed++;
                    received++;
                }
            }

            if (completed > acks.Length)
            {
                acks = new byte[completed];
            }

            SendAll(socket, acks.AsSpan(0, completed));
        }

        Console.WriteLine($"done {received}");
        return partial == 0 ? 0 : 1;
    }

    private static void SendFrames(Socket socket, byte[] output, MessagePattern pattern, ref ulong sent, int count)
    {
        int frame = 4 + pattern.Size;
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(output.AsSpan(i * frame), pattern.Size);
            pattern.Write(output.AsSpan(i * frame + 4, pattern.Size), sent++);
        }

        SendAll(socket, output.AsSpan(0, count * frame));
    }

    /// <summary>The pipelined peer: echoes every whole frame of a read in one send, until the other end shuts down; prints <c>done COUNT</c>.</summary>
    public static int BatchEcho(int port, int size)
    {
        using Socket socket = ConnectTcp(port);
        Console.WriteLine("ready");
        int frame = 4 + size;
        byte[] buffer = new byte[64 * 1024];
        int filled = 0;
        ulong echoed = 0;
        while (true)
        {
            int n = socket.Receive(buffer.AsSpan(filled));
            if (n == 0)
            {
                break;
            }

            filled += n;
            int whole = filled / frame * frame;
            SendAll(socket, buffer.AsSpan(0, whole));
            echoed += (ulong)(whole / frame);
            buffer.AsSpan(whole, filled - whole).CopyTo(buffer);
            filled -= whole;
        }

        Console.WriteLine($"done {echoed}");
        return filled == 0 ? 0 : 1;
    }

    /// <summary>The round-trip peer: echoes frames until the other end shuts down; prints <c>done COUNT</c>.</summary>
    public static int Echo(string transport, string address, int size)
    {
        using Socket socket = transport == "tcp" ? ConnectTcp(int.Parse(address, CultureInfo.InvariantCulture)) : ConnectUnix(address);
        Console.WriteLine("ready");
        byte[] frame = new byte[4 + size];
        ulong echoed = 0;
        while (ReceiveExactly(socket, frame))
        {
            SendAll(socket, frame);
            echoed++;
        }

        Console.WriteLine($"done {echoed}");
        return 0;
    }

    private static Socket ListenUnix(string path)
    {
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private static Socket ConnectUnix(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static Socket ConnectTcp(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>
    /// Synchronous accept after a poll: an async accept could leave the socket in the runtime's
    /// non-blocking emulation, which would add latency that is not the kernel's.
    /// </summary>
    private static Socket Accept(Socket listener, CancellationToken ct)
    {
        long deadline = Stopwatch.GetTimestamp() + HarnessTimeouts.Ticks(HarnessTimeouts.PeerStart);
        while (!listener.Poll(200_000, SelectMode.SelectRead))
        {
            ct.ThrowIfCancellationRequested();
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new HarnessException($"the peer did not connect within {HarnessTimeouts.PeerStart.TotalSeconds:0} s");
            }
        }

        return listener.Accept();
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[socket.Send(data)..];
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false on a clean end of stream before its first byte.</summary>
    private static bool ReceiveExactly(Socket socket, Span<byte> buffer)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = socket.Receive(buffer[filled..]);
            if (n == 0)
            {
                if (filled == 0)
                {
                    return false;
                }

                throw new HarnessException($"stream ended inside a frame ({filled} of {buffer.Length} bytes)");
            }

            filled += n;
        }

        return true;
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}
