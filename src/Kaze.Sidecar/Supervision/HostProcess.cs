using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Kaze.Sidecar.Supervision.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Sidecar.Supervision;

/// <summary>
/// The host program that <c>kaze run</c> starts and supervises: one child process that keeps the
/// terminal (stdin, stdout and stderr are inherited), receives the signals sent to us, and whose
/// exit code becomes ours. Linux only.
/// </summary>
/// <remarks>
/// <para>
/// Lifecycle: <see cref="Start"/> resolves the command like a shell and starts it, or returns a
/// <see cref="HostStartFailure"/> with exit code 127 or 126. <see cref="Exited"/> completes when
/// the child ends, with its exit code, or 128+N when signal N ended it (the shell convention;
/// .NET's <see cref="Process.ExitCode"/> already reports it so on Unix). <see cref="StopAsync"/>
/// asks the child to exit and kills it with SIGKILL when its grace period is over.
/// </para>
/// <para>
/// The child never outlives this object: <see cref="Dispose"/> SIGKILLs a child that is still
/// running. Call <see cref="StopAsync"/> first for a graceful stop.
/// </para>
/// </remarks>
public sealed class HostProcess : IDisposable
{
    /// <summary>The grace period of <c>--grace</c> when none is given: 5 seconds.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(5);

    private const int SIGKILL = 9;

    private readonly Process _process;
    private readonly ChildSignaller _signaller;
    private readonly SignalForwarder? _forwarder;
    private readonly ILogger _logger;

    // Completed with the exit code by Process.Exited, on the thread that reaped the child.
    private readonly TaskCompletionSource<int> _exited;

    // Cancelled to end a grace period at once: a cancelled StopAsync, or Dispose. Never
    // disposed: it has no timer, and a stop may still link to it while Dispose runs.
    private readonly CancellationTokenSource _abortGrace = new();

    // Guards _stopTask so that only the first StopAsync runs the stop sequence.
    private readonly Lock _stopGate = new();
    private Task<int>? _stopTask;

    // 0 until Dispose; then 1.
    private int _disposed;

    private HostProcess(Process process, TaskCompletionSource<int> exited, SignalForwarder? forwarder, string executablePath, ILogger logger)
    {
        _process = process;
        _exited = exited;
        _forwarder = forwarder;
        _logger = logger;
        Pid = process.Id;
        ExecutablePath = executablePath;
        _signaller = new ChildSignaller(process);
        if (!_signaller.UsesPidFd && !process.HasExited)
        {
            Log.NoPidFd(logger, Pid);
        }

        _ = exited.Task.ContinueWith(
            static (task, state) => ((HostProcess)state!).OnExited(task.Result),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>The child's process id.</summary>
    public int Pid { get; }

    /// <summary>The absolute path of the file that was executed (also the child's argv[0]).</summary>
    public string ExecutablePath { get; }

    /// <summary>True once the child has exited and its exit code is known.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>
    /// Completes when the child exits, with its exit code: the code it passed to exit(), or
    /// 128+N when signal N ended it (137 for SIGKILL, 143 for SIGTERM). Never faults.
    /// </summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>
    /// Starts <paramref name="options"/>' command as a child process that inherits our standard
    /// streams and environment plus <see cref="HostProcessOptions.Environment"/>.
    /// </summary>
    /// <param name="options">What to run.</param>
    /// <param name="logger">Where to log the lifecycle; none when null.</param>
    /// <returns>The running process, or a failure with the exit code and message a shell would give.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every problem is listed).</exception>
    /// <exception cref="PlatformNotSupportedException">Not running on Linux.</exception>
    public static HostStartResult Start(HostProcessOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The host process supervisor runs on Linux only.");
        }

        List<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid host process options: " + string.Join(" ", problems), nameof(options));
        }

        logger ??= NullLogger.Instance;
        string workingDirectory = Path.GetFullPath(options.WorkingDirectory ?? Environment.CurrentDirectory);

        // The lookup uses the PATH the child will have, as `env PATH=... cmd` does.
        string? searchPath = options.Environment.TryGetValue("PATH", out string? childPath)
            ? childPath
            : Environment.GetEnvironmentVariable("PATH");
        CommandResolution resolution = CommandResolver.Resolve(options.Command, searchPath, workingDirectory);
        if (resolution.Path is null)
        {
            return HostStartResult.Failed(new HostStartFailure(resolution.Error, options.Command, resolution.ErrorPath));
        }

        SignalForwarder? forwarder = options.ForwardSignals ? new SignalForwarder() : null;
        try
        {
            HostStartResult result = StartResolved(options, resolution.Path, workingDirectory, forwarder, logger);
            if (!result.IsStarted)
            {
                forwarder?.Dispose();
            }

            return result;
        }
        catch
        {
            forwarder?.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the child to exit; see <see cref="Exited"/> for the exit code.</summary>
    /// <param name="cancellationToken">Stops the wait (not the child).</param>
    public Task<int> WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _exited.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Stops the child: calls <paramref name="requestExit"/> (which sends the host an <c>exit</c>
    /// request), waits up to <paramref name="grace"/> for the child to exit, then sends SIGKILL.
    /// Returns the exit code as soon as the child has exited.
    /// </summary>
    /// <param name="grace">How long the child has from this call until SIGKILL; zero kills at once.</param>
    /// <param name="requestExit">
    /// Asks the host to exit. It runs on the thread pool and its token is cancelled when the grace
    /// period ends or the child exits; an exception from it is logged and the stop goes on. Null
    /// skips the request (the child only gets the grace period, then SIGKILL).
    /// </param>
    /// <param name="cancellationToken">Cancelling it ends the grace period now: the stop is no longer graceful and the child is killed.</param>
    /// <returns>The exit code; 137 when the child had to be killed.</returns>
    /// <remarks>
    /// No SIGTERM is sent: the <c>exit</c> request is the graceful path, SIGKILL the forced one.
    /// If the child has already exited, <paramref name="requestExit"/> is not called. Only the
    /// first call runs the sequence; later calls wait for the same result (their token can still
    /// end the grace period).
    /// </remarks>
    public Task<int> StopAsync(TimeSpan grace, Func<CancellationToken, Task>? requestExit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(grace, TimeSpan.Zero);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        Task<int> stop;
        lock (_stopGate)
        {
            stop = _stopTask ??= StopCoreAsync(grace, requestExit);
        }

        if (cancellationToken.CanBeCanceled && !stop.IsCompleted)
        {
            CancellationTokenRegistration registration = cancellationToken.Register(
                static state => ((HostProcess)state!).AbortGrace(), this);
            _ = stop.ContinueWith(
                static (_, state) => ((IDisposable)state!).Dispose(),
                registration,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return stop;
    }

    /// <summary>
    /// Stops forwarding signals and releases the handles. A child that is still running is sent
    /// SIGKILL, so that it never outlives its supervisor; <see cref="Exited"/> still completes.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _forwarder?.Dispose();
        if (!HasExited && KillWithDescendants())
        {
            Log.KilledOnDispose(_logger, Pid);
        }

        AbortGrace();

        // The Process must live until the child is reaped, or Exited would never complete.
        _ = _exited.Task.ContinueWith(
            static (_, state) =>
            {
                var self = (HostProcess)state!;
                self._signaller.Dispose();
                self._process.Dispose();
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// Passes <paramref name="signal"/> on to the child, unless the terminal has already
    /// delivered it there (see <see cref="SignalForwarder"/>). Called by the forwarder's signal
    /// handlers, and by tests directly.
    /// </summary>
    internal SignalForwardOutcome ForwardSignal(PosixSignal signal)
    {
        if (HasExited)
        {
            return SignalForwardOutcome.ChildGone;
        }

        string name = signal.ToString();
        if (ProcStat.TryRead(Environment.ProcessId, out ProcStat self)
            && ProcStat.TryRead(Pid, out ProcStat child)
            && SignalForwarder.WasDeliveredByTerminal(signal, self, child))
        {
            Log.SignalLeftToTerminal(_logger, name, Pid);
            return SignalForwardOutcome.LeftToTerminal;
        }

        if (!_signaller.Send(SignalForwarder.ToNumber(signal)))
        {
            return SignalForwardOutcome.ChildGone;
        }

        Log.SignalForwarded(_logger, name, Pid);
        return SignalForwardOutcome.Sent;
    }

    private static HostStartResult StartResolved(HostProcessOptions options, string path, string workingDirectory, SignalForwarder? forwarder, ILogger logger)
    {
        var startInfo = new ProcessStartInfo(path)
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };

        // No Redirect* and no CreateNoWindow: the child inherits fds 0, 1 and 2, so it keeps
        // the terminal and sees isatty() as the user would without kaze.
        foreach (string argument in options.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (KeyValuePair<string, string?> variable in options.Environment)
        {
            if (variable.Value is null)
            {
                startInfo.Environment.Remove(variable.Key);
            }
            else
            {
                startInfo.Environment[variable.Key] = variable.Value;
            }
        }

        if (!TryStartProcess(startInfo, out Process? process, out TaskCompletionSource<int>? exited, out int errno))
        {
            if (errno != LibC.ENOEXEC)
            {
                return HostStartResult.Failed(new HostStartFailure(ToError(errno), options.Command, path, errno));
            }

            // execvp(3) and shells run a file the kernel does not recognise with /bin/sh, unless
            // it looks binary (bash's test: a NUL in its first line).
            if (LooksBinary(path))
            {
                return HostStartResult.Failed(new HostStartFailure(HostStartError.ExecFormatError, options.Command, path, errno));
            }

            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Insert(0, path);
            if (!TryStartProcess(startInfo, out process, out exited, out errno))
            {
                return HostStartResult.Failed(new HostStartFailure(ToError(errno), options.Command, path, errno));
            }
        }

        // Logged before the HostProcess exists: its exit handler may log "exited" at once.
        Log.Started(logger, process.Id, path);
        var host = new HostProcess(process, exited, forwarder, path, logger);
        forwarder?.Attach(host);
        return HostStartResult.Started(host);
    }

    private static bool TryStartProcess(
        ProcessStartInfo startInfo,
        [NotNullWhen(true)] out Process? process,
        [NotNullWhen(true)] out TaskCompletionSource<int>? exited,
        out int errno)
    {
        var candidate = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var completion = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Hooked before Start, so even a child that exits at once is seen.
        candidate.Exited += (_, _) => completion.TrySetResult(candidate.ExitCode);
        try
        {
            candidate.Start();
        }
        catch (Win32Exception e)
        {
            // On Unix NativeErrorCode is the errno of execve (or of fork), passed back to us by
            // the runtime; 0 for the checks .NET makes itself, which the resolver made first.
            candidate.Dispose();
            process = null;
            exited = null;
            errno = e.NativeErrorCode;
            return false;
        }

        process = candidate;
        exited = completion;
        errno = 0;
        return true;
    }

    private static HostStartError ToError(int errno) => errno switch
    {
        LibC.ENOENT => HostStartError.RequiredFileNotFound, // the file was there a moment ago: its interpreter or loader is not
        LibC.EACCES => HostStartError.PermissionDenied,
        LibC.ENOEXEC => HostStartError.ExecFormatError,
        _ => HostStartError.CannotExecute,
    };

    private static bool LooksBinary(string path)
    {
        Span<byte> head = stackalloc byte[80];
        int length;
        try
        {
            using FileStream file = File.OpenRead(path);
            length = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }

        ReadOnlySpan<byte> firstLine = head[..length];
        int newline = firstLine.IndexOf((byte)'\n');
        if (newline >= 0)
        {
            firstLine = firstLine[..newline];
        }

        return firstLine.Contains((byte)0);
    }

    private void AbortGrace() => _abortGrace.Cancel();

    /// <summary>
    /// SIGKILLs the child and every descendant it has now (a shell's children, a host's workers):
    /// listed before the child dies, since they are reparented to init the moment it does.
    /// </summary>
    private bool KillWithDescendants()
    {
        List<int> descendants = ProcessTree.Descendants(Pid);
        bool sent = _signaller.Send(SIGKILL);
        int killed = ProcessTree.Kill(descendants, SIGKILL);
        if (killed > 0)
        {
            Log.KilledDescendants(_logger, Pid, killed);
        }

        return sent;
    }

    private void OnExited(int exitCode)
    {
        _signaller.MarkExited();
        Log.Exited(_logger, Pid, exitCode);
    }

    private async Task<int> StopCoreAsync(TimeSpan grace, Func<CancellationToken, Task>? requestExit)
    {
        if (HasExited)
        {
            return await _exited.Task.ConfigureAwait(false);
        }

        // One token for the grace period: it ends at the deadline or when a caller gives up on
        // grace, and is also cancelled once the child has exited, when the request has nothing
        // left to do.
        using var graceEnd = CancellationTokenSource.CreateLinkedTokenSource(_abortGrace.Token);
        graceEnd.CancelAfter(grace);

        if (requestExit is not null)
        {
            Log.RequestingExit(_logger, Pid, grace);

            // On the pool, so that a request that blocks cannot hold back the SIGKILL; and not
            // awaited, so that one that ignores its token cannot hang the stop.
            _ = Task.Run(() => RequestExitAsync(requestExit, graceEnd.Token), CancellationToken.None);
        }

        await ((Task)_exited.Task).WaitAsync(graceEnd.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!HasExited)
        {
            if (_abortGrace.IsCancellationRequested)
            {
                Log.StopCancelled(_logger, Pid);
            }
            else
            {
                Log.GraceExpired(_logger, Pid, grace);
            }

            KillWithDescendants();
        }

        // SIGKILL cannot be caught or ignored: this wait ends once the kernel has torn the child down.
        int exitCode = await _exited.Task.ConfigureAwait(false);
        graceEnd.Cancel();
        return exitCode;
    }

    private async Task RequestExitAsync(Func<CancellationToken, Task> requestExit, CancellationToken cancellationToken)
    {
        try
        {
            await requestExit(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The grace period ended or the child exited while the request was being sent.
        }
        catch (Exception e)
        {
            Log.RequestExitFailed(_logger, Pid, e);
        }
    }
}
