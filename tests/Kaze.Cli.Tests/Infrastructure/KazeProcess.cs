using System.Diagnostics;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// One real <c>dotnet kaze.dll ...</c> process: its stdout and stderr lines (separately: kaze's own
/// log lines must stay off stdout), its exit code, and signals to it. Disposing it SIGKILLs the
/// process and its descendants if it is still running.
/// </summary>
/// <remarks>
/// The streams are read here, not through BeginOutputReadLine, so that waiting for the exit does not
/// also wait for the end of the streams: a child that outlives kaze (kaze SIGKILLed) keeps them open.
/// </remarks>
internal sealed class KazeProcess : IDisposable
{
    private readonly Process _process;
    private int _disposed;

    private KazeProcess(Process process, string description)
    {
        _process = process;
        Description = description;
        Pid = process.Id;
        Stdout = new OutputLines("stdout", process.StandardOutput);
        Stderr = new OutputLines("stderr", process.StandardError);
    }

    /// <summary>kaze's pid (dotnet runs the app in its own process: this is also what kaze calls its pid).</summary>
    public int Pid { get; }

    /// <summary>The command line, for messages.</summary>
    public string Description { get; }

    public OutputLines Stdout { get; }

    public OutputLines Stderr { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <c>dotnet kaze.dll</c> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>,
    /// with no KAZE_* variables of ours (they are kaze's configuration layer) and HOME set to
    /// <paramref name="home"/> (no ~/.config/kaze/kaze.json); stdin is at end of file.
    /// </summary>
    public static KazeProcess Start(IReadOnlyList<string> arguments, string workingDirectory, string home, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(TestPrograms.Dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(TestPrograms.Kaze);
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (string key in info.Environment.Keys.Where(k => k.StartsWith("KAZE_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["HOME"] = home;
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (KeyValuePair<string, string> variable in environment ?? new Dictionary<string, string>())
        {
            info.Environment[variable.Key] = variable.Value;
        }

        var process = new Process { StartInfo = info };
        process.Start();
        var kaze = new KazeProcess(process, "kaze " + string.Join(' ', arguments));
        process.StandardInput.Close();
        return kaze;
    }

    /// <summary>Sends kaze a signal (kill(2)).</summary>
    public void Signal(int signal)
    {
        if (!Posix.Kill(Pid, signal))
        {
            throw new InvalidOperationException($"kaze (pid {Pid}) is gone; cannot send it signal {signal}.\n{Describe()}");
        }
    }

    /// <summary>
    /// Waits for kaze to exit and returns its exit code (128+N when signal N ended it). Its last
    /// lines may still be on their way: read <see cref="Stdout"/> and <see cref="Stderr"/> after
    /// <see cref="WaitForExitAndOutputAsync"/>, unless a child that outlives kaze holds the streams.
    /// </summary>
    public async Task<int> WaitForExitAsync(string what, TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().Within(what, timeout ?? Deadline.Long, Describe);
        return _process.ExitCode;
    }

    /// <summary>Waits for kaze's exit and for the end of both streams (every child gone too); returns the exit code.</summary>
    public async Task<int> WaitForExitAndOutputAsync(string what, TimeSpan? timeout = null)
    {
        int code = await WaitForExitAsync(what, timeout);
        await Task.WhenAll(Stdout.Completion, Stderr.Completion).Within("the end of kaze's output after " + what, timeout ?? Deadline.Long, Describe);
        return code;
    }

    public string Describe() => $"{Description} (pid {Pid})\n--- stdout:\n{Stdout.Text}\n--- stderr:\n{Stderr.Text}\n---";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

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
            // Exited meanwhile.
        }

        _process.Dispose();
    }
}
