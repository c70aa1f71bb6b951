using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kaze.Cli.Tests.Infrastructure;
using Kaze.Cli.Tests.Mesh;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Http;

/// <summary>What runs under the called sidecar (B) on its app port.</summary>
internal enum CalleeApp
{
    /// <summary>tests/Kaze.TestHttpApp, HTTP/1.1.</summary>
    TestApp,

    /// <summary>tests/Kaze.TestHttpApp, cleartext HTTP/2 only (gRPC).</summary>
    TestAppHttp2,

    /// <summary><c>python3 -m http.server</c> serving <see cref="HttpPair.Files"/>.</summary>
    Python,

    /// <summary>Nothing listens on the app port (the host is `sleep`).</summary>
    Nothing,
}

/// <summary>
/// Two sidecars on loopback that know each other: A (0.0.2.1) with the loopback HTTP port
/// (<c>--http-port 0</c>, learnt from its host's ready line) and tests/Kaze.TestHttpApp under it
/// on its own app port; B (0.0.2.2) with <c>--app-port</c> and <see cref="CalleeApp"/> under it.
/// Ports are picked free; if one is taken before it is bound, the pair starts again on new ones.
/// </summary>
/// <remarks>Built on <see cref="KazeRuns"/>: Dispose kills every process and removes the channel files and the directory.</remarks>
internal sealed class HttpPair : IDisposable
{
    public const string CallerIdent = "0.0.2.1";
    public const string CalleeIdent = "0.0.2.2";

    private const int StartAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(45);

    private readonly KazeRuns _runs = new();

    private HttpPair()
    {
        Files = Path.Combine(_runs.Directory, "www");
        System.IO.Directory.CreateDirectory(Files);
    }

    /// <summary>The caller's sidecar.</summary>
    public KazeProcess Caller { get; private set; } = null!;

    /// <summary>The called sidecar.</summary>
    public KazeProcess Callee { get; private set; } = null!;

    /// <summary>KAZE_HTTP_PORT of the caller.</summary>
    public int HttpPort { get; private set; }

    /// <summary>The caller's app port, and the callee's.</summary>
    public int CallerAppPort { get; private set; }

    public int CalleeAppPort { get; private set; }

    /// <summary>The directory python's http.server serves; write files before starting.</summary>
    public string Files { get; }

    /// <summary>The working directory of both sidecars (a kaze.json here is theirs).</summary>
    public string Directory => _runs.Directory;

    /// <summary>"http://127.0.0.1:KAZE_HTTP_PORT/0.0.2.2": the callee's app as the caller's host sees it.</summary>
    public string CalleeUrl => $"http://127.0.0.1:{HttpPort}/{CalleeIdent}";

    /// <summary>Writes the file before start (a place for kaze.json, served files…).</summary>
    public static HttpPair Create() => new();

    /// <summary>Starts both sidecars with their apps; <paramref name="callerOptions"/> and <paramref name="calleeOptions"/> are added to each `kaze run`.</summary>
    public async Task StartAsync(CalleeApp app, string[]? callerOptions = null, string[]? calleeOptions = null)
    {
        for (int attempt = 1; ; attempt++)
        {
            int[] ports = FreePorts.Pick(4);
            CallerAppPort = ports[2];
            CalleeAppPort = ports[3];
            string callerListen = "127.0.0.1:" + ports[0].ToString(CultureInfo.InvariantCulture);
            string calleeListen = "127.0.0.1:" + ports[1].ToString(CultureInfo.InvariantCulture);
            Caller = _runs.Start(
                [
                    "run", "--ident", CallerIdent, "--listen", callerListen, "--metrics", "off", "--channel", _runs.NewChannel(),
                    "--node", $"{CalleeIdent}={calleeListen}", "--http-port", "0", "--app-port", Port(CallerAppPort),
                    .. callerOptions ?? [],
                    "--", TestPrograms.Dotnet, TestPrograms.TestHttpApp, "--port", Port(CallerAppPort),
                ]);
            string[] command = app switch
            {
                CalleeApp.TestApp => [TestPrograms.Dotnet, TestPrograms.TestHttpApp, "--port", Port(CalleeAppPort)],
                CalleeApp.TestAppHttp2 => [TestPrograms.Dotnet, TestPrograms.TestHttpApp, "--port", Port(CalleeAppPort), "--protocols", "http2"],
                CalleeApp.Python => ["sh", "-c", $"echo \"ready $$ -\"; exec python3 -u -m http.server {Port(CalleeAppPort)} --bind 127.0.0.1 --directory {Files}"],
                _ => ["sh", "-c", "echo \"ready $$ -\"; exec sleep 600"],
            };
            Callee = _runs.Start(
                [
                    "run", "--ident", CalleeIdent, "--listen", calleeListen, "--metrics", "off", "--channel", _runs.NewChannel(),
                    "--node", $"{CallerIdent}={callerListen}", "--app-port", Port(CalleeAppPort),
                    .. calleeOptions ?? [],
                    "--", .. command,
                ]);
            string?[] ready = await Task.WhenAll(ReadyLineAsync(Caller, "the caller's app"), ReadyLineAsync(Callee, "the callee's app"));
            if (ready[0] is { } callerLine && ready[1] is not null)
            {
                HttpPort = int.Parse(callerLine.Split(' ')[2], CultureInfo.InvariantCulture);
                if (app == CalleeApp.Python)
                {
                    await Eventually.True(() => Accepts(CalleeAppPort), $"python's http.server to listen on {CalleeAppPort}", StartTimeout, Callee.Describe);
                }

                return;
            }

            Caller.Dispose();
            Callee.Dispose();
            if (attempt == StartAttempts)
            {
                throw new XunitException($"Cannot start the pair: a picked port was taken before it was bound, {StartAttempts} times in a row.\n{Caller.Describe()}\n{Callee.Describe()}");
            }
        }
    }

    /// <summary>Writes a configuration file in the pair's directory, for a node's <c>--config</c>; returns its path.</summary>
    public string WriteConfig(string name, string json)
    {
        string path = Path.Combine(_runs.Directory, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>How many requests the callee's test app has seen (GET /count, asked directly).</summary>
    public Task<long> CalleeRequestsAsync() => NumberAsync(CalleeAppPort, "/count", "how many requests it saw");

    /// <summary>How far the callee's test app wrote its last /bytes?progress=1 response (GET /progress, asked directly).</summary>
    public Task<long> CalleeProgressAsync() => NumberAsync(CalleeAppPort, "/progress", "how far it wrote");

    public void Dispose() => _runs.Dispose();

    private static async Task<long> NumberAsync(int port, string path, string what)
    {
        using var client = new HttpClient();
        string text = await client.GetStringAsync($"http://127.0.0.1:{port}{path}").Within($"the app on {port} to say {what}");
        return long.Parse(text, CultureInfo.InvariantCulture);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static bool Accepts(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The host's "ready PID PORT" line; null when kaze exited before it (a port was taken: start again).</summary>
    private async Task<string?> ReadyLineAsync(KazeProcess kaze, string what)
    {
        try
        {
            string line = await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("ready ", StringComparison.Ordinal), what + " to print 'ready'", StartTimeout);
            await _runs.WaitForReadyChildAsync(kaze, what);
            return line;
        }
        catch (XunitException) when (kaze.HasExited)
        {
            return null;
        }
    }
}

/// <summary>The bytes of the test app's /bytes/N (tests/Kaze.TestHttpApp, Pattern): byte i is a function of i alone.</summary>
internal static class AppPattern
{
    public static void Fill(Span<byte> buffer, long offset)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            long at = offset + i;
            buffer[i] = (byte)((at * 131) ^ (at >> 9));
        }
    }
}
