using System.Diagnostics;
using System.Text;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// This benchmark executable re-launched as the other side of a measurement, talking back
/// through lines on its stdout. Disposing kills it if it is still running, so no path leaves a
/// peer behind.
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    /// <summary>First argument that makes Program run <see cref="ChannelPeer"/>.</summary>
    public const string Command = "channel-peer";

    /// <summary>Set in a peer's environment to the CPU it should pin itself to.</summary>
    public const string PinVariable = "KAZE_BENCH_PEER_CPU";

    /// <summary>CPU the peers pin themselves to; -1 for none (set once by the harness).</summary>
    public static int PeerCpu { get; set; } = -1;

    /// <summary>CPU the harness's measuring thread is pinned to when <see cref="PeerCpu"/> is set.</summary>
    public static int HarnessCpu { get; set; }

    private readonly Process _process;
    private readonly string _mode;
    // What the peer wrote to stderr, for the failure message.
    private readonly StringBuilder _stderr = new();

    private PeerProcess(Process process, string mode)
    {
        _process = process;
        _mode = mode;
    }

    public int Id => _process.Id;

    /// <summary>Starts <c>channel-peer MODE ARGS...</c> with this executable (or this dll under dotnet).</summary>
    public static PeerProcess Start(string mode, params string[] args)
    {
        string processPath = Environment.ProcessPath ?? throw new HarnessException("cannot find this executable's path to launch the peer");
        var start = new ProcessStartInfo
        {
            FileName = processPath,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };

        if (PeerCpu >= 0)
        {
            start.Environment[PinVariable] = PeerCpu.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // Under `dotnet Kaze.Benchmarks.dll` the process is dotnet itself: hand it the dll again.
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(PeerProcess).Assembly.Location);
        }

        start.ArgumentList.Add(Command);
        start.ArgumentList.Add(mode);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start };
        var peer = new PeerProcess(process, mode);
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

        // A forked child inherits the forking thread's affinity: start the peer unpinned (it pins
        // its own main thread), then pin this thread back.
        if (PeerCpu >= 0)
        {
            CpuPinning.UnpinCurrentThread();
        }

        try
        {
            if (!process.Start())
            {
                throw new HarnessException($"peer '{mode}' did not start");
            }
        }
        finally
        {
            if (PeerCpu >= 0)
            {
                CpuPinning.PinCurrentThread(HarnessCpu);
            }
        }

        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Reads the peer's next stdout line; throws naming <paramref name="awaiting"/> on timeout or exit.</summary>
    public string ReadLine(TimeSpan timeout, string awaiting, CancellationToken ct)
    {
        string? line;
        try
        {
            line = _process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(timeout, ct).GetAwaiter().GetResult();
        }
        catch (TimeoutException)
        {
            throw new HarnessException($"peer '{_mode}': no line within {timeout.TotalSeconds:0.#} s while awaiting {awaiting}{StderrSuffix()}");
        }

        return line ?? throw new HarnessException($"peer '{_mode}' closed its stdout while awaiting {awaiting}{ExitSuffix()}");
    }

    /// <summary>Reads the next line and checks it starts with <paramref name="prefix"/>; returns the rest.</summary>
    public string Expect(string prefix, TimeSpan timeout, CancellationToken ct)
    {
        string line = ReadLine(timeout, $"'{prefix}'", ct);
        if (!line.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new HarnessException($"peer '{_mode}': expected '{prefix}...', got '{line}'{StderrSuffix()}");
        }

        return line[prefix.Length..].Trim();
    }

    /// <summary>Waits for a clean exit (code 0); throws naming <paramref name="phase"/> otherwise.</summary>
    public void WaitForExit(TimeSpan timeout, string phase)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new HarnessException($"peer '{_mode}' did not exit within {timeout.TotalSeconds:0.#} s after {phase}{StderrSuffix()}");
        }

        _process.WaitForExit();
        if (_process.ExitCode != 0)
        {
            throw new HarnessException($"peer '{_mode}' exited with code {_process.ExitCode} after {phase}{StderrSuffix()}");
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped: nothing to kill.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private string ExitSuffix()
    {
        _process.WaitForExit(2000);
        string code = _process.HasExited ? $" (exit code {_process.ExitCode})" : "";
        return code + StderrSuffix();
    }

    private string StderrSuffix()
    {
        lock (_stderr)
        {
            return _stderr.Length == 0 ? "" : "; its stderr:\n" + _stderr.ToString().TrimEnd();
        }
    }
}

/// <summary>A measurement that could not be taken; the message names the phase.</summary>
internal sealed class HarnessException(string message) : Exception(message);
