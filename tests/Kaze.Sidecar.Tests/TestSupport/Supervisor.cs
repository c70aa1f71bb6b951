using System.Diagnostics;
using System.Globalization;
using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.TestSupport;

/// <summary>
/// Kaze.TestChild (a stand-in for <c>kaze run</c>) running as a separate process, so that real
/// signals can be sent to a supervisor without signalling the test runner. Collects its output
/// lines, where it reports its pid and every supervisor log event.
/// </summary>
internal sealed class Supervisor : IDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Supervisor(Process process)
    {
        _process = process;
    }

    public Process Process => _process;

    /// <summary>
    /// Starts the supervisor in a session of its own (setsid), so it has no controlling terminal
    /// even when the tests run in one: keyboard signals are then forwarded, never left to a terminal.
    /// </summary>
    public static Supervisor StartDetached(IEnumerable<string> command, IReadOnlyDictionary<string, string> environment) =>
        Start("setsid", ["-w", DotnetHost, HelperPath, "supervise", "--", .. command], environment, redirectInput: false);

    /// <summary>
    /// Starts the supervisor as the session leader on a new pseudo-terminal (script(1)), in the
    /// terminal's foreground process group, as when a user types <c>kaze run</c> in a shell.
    /// Bytes written with <see cref="Type"/> are typed on that terminal.
    /// </summary>
    public static Supervisor StartOnTerminal(string childScript, IReadOnlyDictionary<string, string> environment)
    {
        string command = "exec " + string.Join(' ', new[] { DotnetHost, HelperPath, "supervise", "--", "sh", "-c", childScript }.Select(Quote));
        var env = new Dictionary<string, string>(environment) { ["SHELL"] = "/bin/sh" };
        return Start("script", ["-qec", command, "/dev/null"], env, redirectInput: true);
    }

    public void Type(string keys)
    {
        _process.StandardInput.Write(keys);
        _process.StandardInput.Flush();
    }

    public async Task<int> ReadPidAsync()
    {
        const string Marker = "kaze-supervisor-pid ";
        string line = await WaitForLineAsync(l => l.Contains(Marker, StringComparison.Ordinal), "the supervisor to report its pid");
        return int.Parse(line[(line.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..], CultureInfo.InvariantCulture);
    }

    public async Task<int> WaitForExitAsync(string what)
    {
        await _process.WaitForExitAsync().Within(what);
        return _process.ExitCode;
    }

    public string[] Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    // Contains, not StartsWith: on a terminal, .NET's console prefixes its first write with escape sequences.
    public bool HasEvent(int eventId) => Lines.Any(l => l.Contains($"kaze-event {eventId} ", StringComparison.Ordinal));

    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what)
    {
        using var cts = new CancellationTokenSource(Deadline.Default);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                string? found = _lines.FirstOrDefault(match);
                if (found is not null)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new XunitException($"Timed out waiting for {what}. Output so far:\n{string.Join('\n', Lines)}");
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static Supervisor Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, bool redirectInput)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (KeyValuePair<string, string> variable in environment)
        {
            startInfo.Environment[variable.Key] = variable.Value;
        }

        var process = new Process { StartInfo = startInfo };
        var supervisor = new Supervisor(process);
        process.OutputDataReceived += (_, e) => supervisor.Add(e.Data);
        process.ErrorDataReceived += (_, e) => supervisor.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return supervisor;
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        TaskCompletionSource changed;
        lock (_gate)
        {
            _lines.Add(line.TrimEnd('\r')); // a terminal ends lines with \r\n
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string HelperPath => Path.Join(AppContext.BaseDirectory, "Kaze.TestChild.dll");

    /// <summary>The dotnet muxer that runs these tests, to run the helper with.</summary>
    private static string DotnetHost
    {
        get
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
}
