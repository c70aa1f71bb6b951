using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Kaze.Protocol;

// A hostile peer for the corral's bound tests; see README.md. Lines on stdout, one per step.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Kaze.MeshAttacker hold|bigframe|trickle|early HOST PORT ...");
    return 2;
}

var endPoint = new IPEndPoint(IPAddress.Parse(args[1]), int.Parse(args[2]));
switch (args[0])
{
    case "hold":
        return Attacks.Hold(endPoint, int.Parse(args[3]), uint.Parse(args[4]));
    case "bigframe":
        return Attacks.BigFrame(endPoint, int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]), uint.Parse(args[6]));
    case "trickle":
        return Attacks.Trickle(endPoint, int.Parse(args[3]), uint.Parse(args[4]));
    case "silent":
        return Attacks.Silent(endPoint, int.Parse(args[3]));
    case "early":
        return Attacks.Early(endPoint, int.Parse(args[3]));
    default:
        Console.Error.WriteLine($"unknown command '{args[0]}'");
        return 2;
}

internal static class Attacks
{
    public static int Hold(IPEndPoint endPoint, int count, uint firstIdent)
    {
        var open = new List<Socket>(count);
        int refused = 0;
        for (int i = 0; i < count; i++)
        {
            Socket? socket = TryHello(endPoint, firstIdent + (uint)i);
            if (socket is null)
            {
                refused++;
            }
            else
            {
                open.Add(socket);
            }
        }

        Say($"ready {open.Count} {refused}");
        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            if (line == "check")
            {
                int alive = 0;
                foreach (Socket socket in open)
                {
                    if (!IsClosed(socket))
                    {
                        alive++;
                    }
                }

                Say($"alive {alive}");
            }
        }

        foreach (Socket socket in open)
        {
            socket.Dispose();
        }

        return 0;
    }

    public static int Silent(IPEndPoint endPoint, int count)
    {
        var open = new List<Socket>(count);
        for (int i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
            socket.Connect(endPoint);
            open.Add(socket);
        }

        // An accepted connection gets the corral's hello; a refused one is closed at once.
        int accepted = 0;
        int refused = 0;
        foreach (Socket socket in open)
        {
            try
            {
                byte[] length = new byte[4];
                ReadExactly(socket, length);
                accepted++;
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException)
            {
                refused++;
            }
        }

        Say($"ready {accepted} {refused}");
        while (Console.In.ReadLine() is not null)
        {
        }

        foreach (Socket socket in open)
        {
            socket.Dispose();
        }

        return 0;
    }

    public static int BigFrame(IPEndPoint endPoint, int count, int announce, int send, uint firstIdent)
    {
        var open = new List<Socket>(count);
        int ok = 0;
        int refused = 0;
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < count; i++)
        {
            Socket? socket = TryHello(endPoint, firstIdent + (uint)i);
            if (socket is null)
            {
                refused++;
                continue;
            }

            open.Add(socket);
            try
            {
                // The total length field counts what follows it.
                BinaryPrimitives.WriteUInt32LittleEndian(chunk, (uint)announce);
                BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), 2);
                int sent = 0;
                while (sent < send)
                {
                    int n = Math.Min(chunk.Length, send - sent);
                    sent += socket.Send(chunk, 0, n, SocketFlags.None);
                    BinaryPrimitives.WriteUInt32LittleEndian(chunk, 0x41414141);
                    BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), 0x41414141);
                }

                ok++;
            }
            catch (SocketException)
            {
                refused++;
            }
        }

        Say($"sent {ok} {refused}");
        while (Console.In.ReadLine() is not null)
        {
        }

        foreach (Socket socket in open)
        {
            socket.Dispose();
        }

        return 0;
    }

    public static int Trickle(IPEndPoint endPoint, int intervalMs, uint ident)
    {
        using Socket? socket = TryHello(endPoint, ident);
        if (socket is null)
        {
            Say("refused");
            return 1;
        }

        byte[] start = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(start, 1024);
        BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(4), 2);
        var clock = Stopwatch.StartNew();
        try
        {
            socket.Send(start);
            while (true)
            {
                if (socket.Poll(TimeSpan.FromMilliseconds(intervalMs), SelectMode.SelectRead) && IsClosed(socket))
                {
                    break;
                }

                socket.Send([0x41]);
            }
        }
        catch (SocketException)
        {
        }

        Say($"closed {clock.ElapsedMilliseconds}");
        return 0;
    }

    public static int Early(IPEndPoint endPoint, int size)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(endPoint);
        byte[] chunk = new byte[16 * 1024];
        BinaryPrimitives.WriteUInt32LittleEndian(chunk, (uint)size - 4);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), 2);
        long sent = 0;
        try
        {
            while (sent < size)
            {
                sent += socket.Send(chunk, 0, (int)Math.Min(chunk.Length, size - sent), SocketFlags.None);
            }

            // Everything went: read (the corral's hello) until the corral closes; it must, the frame is over 16 KiB.
            socket.ReceiveTimeout = 15_000;
            byte[] sink = new byte[4096];
            while (socket.Receive(sink) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }

        Say($"closed {sent}");
        return 0;
    }

    private static void Say(string line)
    {
        Console.Out.Write(line + "\n");
        Console.Out.Flush();
    }

    /// <summary>Connects, sends a hello as <paramref name="ident"/> and reads the corral's; null if the corral refused or closed.</summary>
    private static Socket? TryHello(IPEndPoint endPoint, uint ident)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000 };
        try
        {
            socket.Connect(endPoint);
            socket.Send(HelloFrame(ident));
            byte[] length = new byte[4];
            ReadExactly(socket, length);
            byte[] rest = new byte[BinaryPrimitives.ReadUInt32LittleEndian(length)];
            ReadExactly(socket, rest);
            return socket;
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            socket.Dispose();
            return null;
        }
    }

    private static void ReadExactly(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            read += n;
        }
    }

    private static bool IsClosed(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    private static byte[] HelloFrame(uint ident)
    {
        var header = new Hdr { BodyType = "kaze.hello", SrcIdent = ident, Version = ProtocolVersion.Current };
        byte[] max = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(max, 16 * 1024 * 1024);
        header.Headers["max-frame"] = ByteString.CopyFrom(max);
        header.Headers["nonce"] = ByteString.CopyFrom(Guid.NewGuid().ToByteArray());
        byte[] encoded = header.ToByteArray();
        byte[] frame = new byte[8 + encoded.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(4 + encoded.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)encoded.Length);
        encoded.CopyTo(frame, 8);
        return frame;
    }
}
