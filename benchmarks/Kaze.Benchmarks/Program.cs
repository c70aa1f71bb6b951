using BenchmarkDotNet.Running;
using Kaze.Benchmarks.Core.CrossProcess;

namespace Kaze.Benchmarks;

/// <summary>
/// <c>channel [--json FILE] [--messages N] [--seconds S] [--only LIST]</c> runs the two-process
/// channel harness; <c>channel-peer ...</c> is that harness re-launching itself as the other
/// process; <c>local</c> and <c>mesh</c> measure calls through real `kaze run` sidecars; <c>http</c> an HTTP app
/// reached through two of them (beside the app direct and one YARP hop); anything else goes to BenchmarkDotNet.
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

        if (args.Length > 0 && args[0] == Sidecar.GrpcBaseline.ServerCommand)
        {
            return Sidecar.GrpcBaseline.Server(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.GrpcBaseline.ClientCommand)
        {
            return Sidecar.GrpcBaseline.Client(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.HttpHarness.Command)
        {
            return Sidecar.HttpHarness.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.HttpHarness.AppCommand)
        {
            return Sidecar.HttpHarness.App(args[1..]);
        }

        if (args.Length > 0 && args[0] == Sidecar.HttpHarness.YarpCommand)
        {
            return Sidecar.HttpHarness.Yarp(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
