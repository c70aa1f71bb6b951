using System.Globalization;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// <c>channel-peer MODE ARGS...</c>: the other process of a harness measurement. Reports on
/// stdout, errors on stderr; exits on its own after <see cref="HarnessTimeouts.PeerLifetime"/>
/// even if its parent vanished without a trace.
/// </summary>
internal static class ChannelPeer
{
    public static int Run(string[] args)
    {
        if (args.Length < 2)
        {
            return Usage();
        }

        using var lifetime = new Timer(_ =>
        {
            Console.Error.WriteLine($"peer '{args[0]}' still running after {HarnessTimeouts.PeerLifetime.TotalSeconds:0} s: giving up");
            Environment.Exit(3);
        }, null, HarnessTimeouts.PeerLifetime, Timeout.InfiniteTimeSpan);

        try
        {
            if (int.TryParse(Environment.GetEnvironmentVariable(PeerProcess.PinVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu))
            {
                CpuPinning.PinCurrentThread(cpu);
            }

            return args[0] switch
            {
                ShmFlood.PeerMode when args.Length == 4 => ShmFlood.Receive(args[1], Int(args[2]), Int(args[3])),
                ShmPingPong.PeerMode => ShmPingPong.Echo(args[1]),
                ShmIdleWait.PeerMode => ShmIdleWait.Wait(args[1]),
                SpinFloor.PeerMode => SpinFloor.Echo(args[1]),
                SocketBaselines.UdsFloodMode when args.Length == 3 => SocketBaselines.UdsFloodReceive(args[1], Int(args[2])),
                SocketBaselines.UdsEchoMode when args.Length == 3 => SocketBaselines.Echo("uds", args[1], Int(args[2])),
                SocketBaselines.TcpEchoMode when args.Length == 3 => SocketBaselines.Echo("tcp", args[1], Int(args[2])),
                SocketBaselines.TcpBatchEchoMode when args.Length == 3 => SocketBaselines.BatchEcho(Int(args[1]), Int(args[2])),
                SocketBaselines.TcpSinkMode when args.Length == 3 => SocketBaselines.Sink(Int(args[1]), Int(args[2])),
                _ => Usage(),
            };
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"peer '{args[0]}' failed: {e}");
            return 1;
        }
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static int Usage()
    {
        Console.Error.WriteLine($"usage: {PeerProcess.Command} MODE ARGS... (started by the 'channel' harness, not by hand)");
        return 2;
    }
}
