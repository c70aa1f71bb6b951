using System.Diagnostics;
using System.Runtime.InteropServices;
using Kaze.Sidecar.Supervision.Native;
using Microsoft.Win32.SafeHandles;

namespace Kaze.Sidecar.Supervision;

/// <summary>
/// Sends signals to the child and never to a stranger that was given the child's pid after it.
/// </summary>
/// <remarks>
/// .NET reaps the child on its own SIGCHLD thread; from that moment the pid is free for reuse,
/// and a plain <c>kill(pid)</c> racing with the reap could hit another process. A pidfd names
/// the process itself, so a signal sent through it after the exit fails with ESRCH instead.
/// The pidfd is opened after the start and trusted only if the child is still unreaped
/// afterwards (a pid cannot be reused before it is reaped). Where pidfds are unavailable (a
/// kernel before 5.3, or a seccomp profile that refuses them) it falls back to kill(2) guarded
/// by <see cref="Process.HasExited"/>, which is what <see cref="Process.Kill()"/> does.
/// </remarks>
internal sealed class ChildSignaller : IDisposable
{
    private readonly Process _process;

    // Null when pidfds are unavailable or the child was gone before one could be trusted.
    private readonly PidFdHandle? _pidfd;

    // Set once the child has been reaped: from then on nothing is sent at all.
    private volatile bool _exited;

    public ChildSignaller(Process process)
    {
        _process = process;
        int fd = LibC.PidfdOpen(process.Id);
        if (fd >= 0)
        {
            var handle = new PidFdHandle(fd);
            // HasExited(refresh) is false only if the child was unreaped after pidfd_open
            // returned, so the pid still named our child when the descriptor was made.
            if (process.HasExited)
            {
                handle.Dispose();
                _exited = true;
            }
            else
            {
                _pidfd = handle;
            }
        }
    }

    /// <summary>True when signals go through a pidfd (immune to pid reuse).</summary>
    public bool UsesPidFd => _pidfd is not null;

    /// <summary>Sends <paramref name="signal"/>; false if the child is already gone.</summary>
    public bool Send(int signal)
    {
        if (_exited)
        {
            return false;
        }

        if (_pidfd is not null)
        {
            try
            {
                return LibC.PidfdSendSignal(_pidfd, signal) == 0;
            }
            catch (ObjectDisposedException)
            {
                // Closed by MarkExited on the reaping thread between the check and the call.
                return false;
            }
        }

        if (_process.HasExited)
        {
            return false;
        }

        return LibC.Kill(_process.Id, signal) == 0;
    }

    /// <summary>Called once the child has been reaped: later sends do nothing.</summary>
    public void MarkExited()
    {
        _exited = true;
        _pidfd?.Dispose();
    }

    public void Dispose() => _pidfd?.Dispose();

    private sealed class PidFdHandle : SafeHandleMinusOneIsInvalid
    {
        public PidFdHandle()
            : base(ownsHandle: true)
        {
        }

        public PidFdHandle(int fd)
            : base(ownsHandle: true)
        {
            SetHandle(fd);
        }

        protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
    }
}
