using BenchmarkDotNet.Running;
using Kaze.Benchmarks.Core.CrossProcess;

namespace Kaze.Benchmarks;

/// <summary>
/// <c>channel [--json FILE] [--messages N] [--seconds S] [--only LIST]</c> runs the two-process
/// channel harness; <c>channel-peer ...</c> is that harness re-launching itself as the other
/// process; <c>local</c> and <c>mesh</c> measure calls through real `kaze run` sidecars; anything else goes to BenchmarkDotNet.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == ChannelHarness.Command)
        {
            return ChannelHarness.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == PeerProcess.Command)
        {
            return ChannelPeer.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.LocalHarness.Command)
        {
            return Sidecar.LocalHarness.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.LocalHarness.HostCommand)
        {
            return Sidecar.LocalHarness.Host(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.MeshHarness.Command)
        {
            return Sidecar.MeshHarness.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.MeshHarness.CallerCommand)
        {
            return Sidecar.MeshHarness.Caller(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.MeshHarness.ServerCommand)
        {
            return Sidecar.MeshHarness.Server();
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
