using System.Net;
using System.Net.Sockets;
using Kaze.Cli.Tests.Infrastructure;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// What the tests of kaze's operator commands (send, status, config) share: running a command to
/// its end, a free TCP port for a sidecar to listen on, and waiting for a sidecar to be ready.
/// </summary>
internal static class OperatorCommandRuns
{
    /// <summary>Runs <c>kaze ARGS</c> to its exit and the end of its output; the process is kept for its output.</summary>
    public static async Task<(int Code, KazeProcess Kaze)> RunAsync(KazeRuns runs, string what, params string[] arguments)
    {
        KazeProcess kaze = runs.Start(arguments);
        int code = await kaze.WaitForExitAndOutputAsync(what);
        return (code, kaze);
    }

    /// <summary>
    /// A port nothing listens on now. `kaze run --listen` refuses port 0, so the test picks one:
    /// another process could take it before kaze binds it, which would fail the start loudly, never
    /// pass a test wrongly.
    /// </summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// <c>kaze run --ident IDENT --listen 127.0.0.1:PORT -- dotnet Kaze.Echo.dll serve</c>, once Echo
    /// says it has started: the sidecar listens before the host starts, and Echo's handler is
    /// registered before the Generic Host prints "Application started".
    /// </summary>
    public static async Task<KazeProcess> StartEchoSidecarAsync(KazeRuns runs, string ident, int port, params string[] options)
    {
        string channel = runs.NewChannel();
        KazeProcess kaze = runs.Start(
            ["run", "--channel", channel, "--ident", ident, "--listen", $"127.0.0.1:{port}", "--metrics", "off", .. options, "--", TestPrograms.Dotnet, TestPrograms.Echo, "serve"]);
        await kaze.Stdout.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), "Kaze.Echo serve under kaze run to start (its 'Application started' line)");
        return kaze;
    }

    /// <summary><c>kaze sidecar --ident IDENT --listen 127.0.0.1:PORT [options]</c>, once it says it listens.</summary>
    public static async Task<KazeProcess> StartRelaySidecarAsync(KazeRuns runs, string ident, int port, params string[] options)
    {
        KazeProcess kaze = runs.Start(["sidecar", "--ident", ident, "--listen", $"127.0.0.1:{port}", "--metrics", "off", .. options]);
        await kaze.Stderr.WaitForLineAsync(l => l.Contains($"listening on 127.0.0.1:{port}", StringComparison.Ordinal), $"kaze sidecar {ident} to listen on 127.0.0.1:{port}");
        return kaze;
    }
}
