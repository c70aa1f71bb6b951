using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>
/// A private etcd for one test: its own loopback ports and temporary data directory, started and
/// waited for (/health), killed and removed on dispose.
/// </summary>
internal sealed class EtcdProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 100;

    private readonly Process _process;
    private readonly DirectoryInfo _dataDir;
    private readonly ConcurrentQueue<string> _output = new();

    private EtcdProcess(Process process, DirectoryInfo dataDir, Uri clientUrl)
    {
        _process = process;
        _dataDir = dataDir;
        ClientUrl = clientUrl;
    }

    public Uri ClientUrl { get; }

    /// <summary>The last lines etcd wrote, for failure messages.</summary>
    public string RecentOutput => string.Join(Environment.NewLine, _output);

    /// <summary>The etcd executable on PATH, or null.</summary>
    public static string? FindBinary()
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, "etcd");
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0)
            {
                return candidate;
            }
        }

        return null;
    }

    public static async Task<EtcdProcess> StartAsync(TimeSpan timeout)
    {
        string binary = FindBinary() ?? throw new InvalidOperationException("etcd is not on PATH.");
        int clientPort = FreeLoopbackPort();
        int peerPort = FreeLoopbackPort();
        string client = $"http://127.0.0.1:{clientPort}";
        string peer = $"http://127.0.0.1:{peerPort}";
        DirectoryInfo dataDir = Directory.CreateTempSubdirectory("kaze-etcd-");
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "--name", "default",
            "--data-dir", Path.Combine(dataDir.FullName, "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", $"default={peer}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"{binary} did not start.");
        var etcd = new EtcdProcess(process, dataDir, new Uri(client));
        process.OutputDataReceived += (_, e) => etcd.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => etcd.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await etcd.WaitHealthyAsync(timeout);
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }

        return etcd;
    }

    /// <summary>Kills etcd (as a crash would) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().Within($"etcd (pid {_process.Id}) to exit after SIGKILL", Deadline.Short);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        finally
        {
            _process.Dispose();
            _dataDir.Delete(recursive: true);
        }
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var health = new Uri(ClientUrl, "/health");
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"etcd exited with code {_process.ExitCode} before {health} answered. Its output:{Environment.NewLine}{RecentOutput}");
            }

            try
            {
                string body = await http.GetStringAsync(health);
                if (body.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening, not answering yet.
            }

            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for etcd's {health} to say healthy. Its output:{Environment.NewLine}{RecentOutput}");
            }

            // A poll interval; the condition is the health answer above.
            await Task.Delay(50);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > KeptOutputLines && _output.TryDequeue(out _))
        {
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
