using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Xunit;

namespace Kaze.Core.Tests.Infrastructure;

/// <summary>
/// A running tests/Kaze.Core.TestPeer process (started as <c>dotnet Kaze.Core.TestPeer.dll MODE ...</c>):
/// its stdout lines, its exit code, and a kill. Disposing it closes its stdin (modes that hold a
/// channel then exit) and kills it if it has not exited within a few seconds.
/// </summary>
internal sealed class TestPeerProcess : IDisposable
{
    private static readonly Lazy<string> s_peerDll = new(FindPeerDll);

    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly string _description;

    private TestPeerProcess(Process process, string description)
    {
        _process = process;
        _description = description;
    }

    public int Id => _process.Id;

    /// <summary>Everything the peer printed on stdout so far.</summary>
    public string Output
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything the peer printed on stderr so far.</summary>
    public string Errors
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static TestPeerProcess Start(params object[] args)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(s_peerDll.Value);
        foreach (object arg in args)
        {
            info.ArgumentList.Add(Convert.ToString(arg, CultureInfo.InvariantCulture)!);
        }

        var process = new Process { StartInfo = info };
        var peer = new TestPeerProcess(process, "test peer " + string.Join(' ', args));
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                peer._lines.CompleteAdding();
                return;
            }

            lock (peer._stdout)
            {
                peer._stdout.AppendLine(e.Data);
            }

            peer._lines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (peer._stderr)
                {
                    peer._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Waits for the peer's "ready &lt;pid&gt;" line; returns the pid it printed.</summary>
    public int WaitForReady(TimeSpan timeout)
    {
        string line = ReadLine(timeout, "its 'ready' line (the peer holds the channel)");
        if (!line.StartsWith("ready ", StringComparison.Ordinal))
        {
            Assert.Fail($"{_description}: expected 'ready <pid>', got '{line}'.{Diagnostics()}");
        }

        return int.Parse(line.AsSpan("ready ".Length), CultureInfo.InvariantCulture);
    }

    /// <summary>The next stdout line; fails after <paramref name="timeout"/> or if the peer's stdout closed.</summary>
    public string ReadLine(TimeSpan timeout, string what)
    {
        try
        {
            if (_lines.TryTake(out string? line, timeout))
            {
                return line;
            }
        }
        catch (InvalidOperationException)
        {
            // Completed: stdout closed.
        }

        Assert.Fail(_lines.IsCompleted
            ? $"{_description} closed its stdout (exited?) before printing {what}.{Diagnostics()}"
            : $"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {_description} to print {what}.{Diagnostics()}");
        throw new UnreachableException();
    }

    /// <summary>Waits for the peer to exit and returns its exit code; fails after <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout, string what)
    {
        if (!_process.WaitForExit(timeout))
        {
            Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {_description} to exit ({what}).{Diagnostics()}");
        }

        // The parameterless overload also waits for the redirected streams to be read to their end.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Sends SIGKILL.</summary>
    public void Kill() => _process.Kill();

    public string Diagnostics() => $"\n--- peer stdout ---\n{Output}--- peer stderr ---\n{Errors}";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    _process.Kill();
                    _process.WaitForExit(TimeSpan.FromSeconds(5));
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        catch (IOException)
        {
            // Its stdin was already closed because it exited.
        }

        // _lines is not disposed: the process's output callbacks may still be running.
        _process.Dispose();
    }

    /// <summary>The peer's dll: where the build recorded it (see the test .csproj), else next to this assembly.</summary>
    private static string FindPeerDll()
    {
        string? recorded = typeof(TestPeerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "KazeTestPeerPath")?.Value;
        string beside = Path.Combine(AppContext.BaseDirectory, "Kaze.Core.TestPeer.dll");
        foreach (string? candidate in new[] { recorded, beside })
        {
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"Kaze.Core.TestPeer.dll not found (recorded path '{recorded}', nor {beside}): build tests/Kaze.Core.Tests, which builds tests/Kaze.Core.TestPeer first.");
    }

    /// <summary>The dotnet host that runs this test process (dotnet test sets DOTNET_HOST_PATH).</summary>
    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        string? self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
