using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Kaze.TestSupport;

/// <summary>
/// A private etcd for one test: its own free ports and temporary data directory (several worktrees
/// run tests at once on one machine), started and waited for (/health), killed and removed on
/// dispose. It can be killed and started again on the same ports and data, as an outage would.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 100;
    private const int StartAttempts = 3;

    private readonly DirectoryInfo _dataDir;
    private readonly string _listenHost;
    private readonly string _advertiseHost;
    private readonly ConcurrentQueue<string> _output = new();
    private int _clientPort;
    private int _peerPort;
    private Process? _process;

    private EtcdProcess(DirectoryInfo dataDir, string listenHost, string advertiseHost)
    {
        _dataDir = dataDir;
        _listenHost = listenHost;
        _advertiseHost = advertiseHost;
    }

    /// <summary>Where clients reach it, e.g. http://127.0.0.1:40123.</summary>
    public Uri ClientUrl => new($"http://{_advertiseHost}:{_clientPort}");

    /// <summary>The last lines etcd wrote, for failure messages.</summary>
    public string RecentOutput => string.Join(Environment.NewLine, _output);

    /// <summary>Why etcd tests cannot run here (the binary is not on PATH), or null if they can.</summary>
    public static string? SkipReason => FindBinary() is null
        ? "The etcd binary is not on PATH. Install it to run this integration test (Debian/Ubuntu: apt-get install etcd-server)."
        : null;

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

    /// <summary>Starts etcd on free loopback ports.</summary>
    /// <param name="timeout">How long it may take to say healthy.</param>
    /// <param name="listenHost">The address it listens on (default 127.0.0.1; 0.0.0.0 for other network namespaces).</param>
    /// <param name="advertiseHost">The address clients use (default <paramref name="listenHost"/>, or 127.0.0.1 for 0.0.0.0).</param>
    public static async Task<EtcdProcess> StartAsync(TimeSpan timeout, string listenHost = "127.0.0.1", string? advertiseHost = null)
    {
        DirectoryInfo dataDir = Directory.CreateTempSubdirectory("kaze-etcd-");
        var etcd = new EtcdProcess(dataDir, listenHost, advertiseHost ?? (listenHost == "0.0.0.0" ? "127.0.0.1" : listenHost));
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                etcd._clientPort = etcd.FreePort();
                etcd._peerPort = etcd.FreePort();

                // An attempt that lost its port may have written a member for it: start clean.
                string data = Path.Combine(dataDir.FullName, "data");
                if (Directory.Exists(data))
                {
                    Directory.Delete(data, recursive: true);
                }

                if (await etcd.LaunchAsync(timeout, lastAttempt: attempt == StartAttempts))
                {
                    return etcd;
                }
            }
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills etcd (as a crash would) and waits for it to exit; its data stays for <see cref="RestartAsync"/>.</summary>
    public async Task KillAsync()
    {
        Process? process = _process;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync().Within($"etcd (pid {process.Id}) to exit after SIGKILL", Deadline.Short);
        process.Dispose();
        _process = null;
    }

    /// <summary>Starts etcd again on the same ports and data (after <see cref="KillAsync"/>).</summary>
    public async Task RestartAsync(TimeSpan timeout)
    {
        await KillAsync();
        if (!await LaunchAsync(timeout, lastAttempt: true))
        {
            Assert.Fail($"etcd did not start again on {ClientUrl}. Its output:{Environment.NewLine}{RecentOutput}");
        }
    }

    /// <summary>Writes a key as another tool (etcdctl, an operator) would, through etcd's JSON gateway.</summary>
    public async Task PutAsync(string key, string value) => await PostAsync("/v3/kv/put", new Dictionary<string, string>
    {
        ["key"] = Base64(key),
        ["value"] = Base64(value),
    });

    /// <summary>Deletes a key through the gateway.</summary>
    public async Task DeleteAsync(string key) => await PostAsync("/v3/kv/deleterange", new Dictionary<string, string> { ["key"] = Base64(key) });

    /// <summary>The value of a key (UTF-8), or null if it does not exist.</summary>
    public async Task<string?> GetAsync(string key)
    {
        string json = await PostAsync("/v3/kv/range", new Dictionary<string, string> { ["key"] = Base64(key) });
        using JsonDocument document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("kvs", out JsonElement kvs) || kvs.GetArrayLength() == 0)
        {
            return null;
        }

        return Encoding.UTF8.GetString(Convert.FromBase64String(kvs[0].GetProperty("value").GetString() ?? ""));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        finally
        {
            _dataDir.Delete(recursive: true);
        }
    }

    private async Task<string> PostAsync(string path, Dictionary<string, string> body)
    {
        using var http = new HttpClient { Timeout = Deadline.Short };
        using HttpResponseMessage response = await http.PostAsJsonAsync(new Uri(ClientUrl, path), body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} to etcd: HTTP {(int)response.StatusCode} {text}");
        return text;
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>Starts the process and waits for health; false if it exited at once (a port taken meanwhile) and this is not the last attempt.</summary>
    private async Task<bool> LaunchAsync(TimeSpan timeout, bool lastAttempt)
    {
        string binary = FindBinary() ?? throw new InvalidOperationException("etcd is not on PATH.");
        string listenClient = $"http://{_listenHost}:{_clientPort}";
        string listenPeer = $"http://{_listenHost}:{_peerPort}";
        string peer = $"http://{_advertiseHost}:{_peerPort}";
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "--name", "default",
            "--data-dir", Path.Combine(_dataDir.FullName, "data"),
            "--listen-client-urls", listenClient, "--advertise-client-urls", ClientUrl.GetLeftPart(UriPartial.Authority),
            "--listen-peer-urls", listenPeer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", $"default={peer}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"{binary} did not start.");
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return await WaitHealthyAsync(process, timeout, lastAttempt);
    }

    private async Task<bool> WaitHealthyAsync(Process process, TimeSpan timeout, bool lastAttempt)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var health = new Uri(ClientUrl, "/health");
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            if (process.HasExited)
            {
                if (!lastAttempt && RecentOutput.Contains("address already in use", StringComparison.Ordinal))
                {
                    return false;
                }

                Assert.Fail($"etcd exited with code {process.ExitCode} before {health} answered. Its output:{Environment.NewLine}{RecentOutput}");
            }

            try
            {
                string body = await http.GetStringAsync(health);
                if (body.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                {
                    return true;
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

    private int FreePort()
    {
        using var listener = new TcpListener(_listenHost == "0.0.0.0" ? IPAddress.Any : IPAddress.Parse(_listenHost), 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
