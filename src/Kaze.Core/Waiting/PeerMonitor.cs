using System.Runtime.InteropServices;
using Kaze.Core.Native;

namespace Kaze.Core.Waiting;

/// <summary>
/// Notices the peer process's death the moment it happens: a thread blocks in poll(2) on a pidfd
/// of the peer and, when it becomes readable (the process exited or was killed), marks the peer
/// dead and wakes this side's waiters. The 100 ms /proc check in the waiters stays as the
/// fallback where pidfds are not available (Linux before 5.3).
/// </summary>
internal sealed unsafe class PeerMonitor
{
    private const int ESRCH = 3;
    private const int PollSliceMs = 200;

    private readonly ShmChannel _channel;
    private readonly Lock _gate = new();
    // The pid being watched (0 = none yet); a new peer (a host that re-attached) replaces it.
    private int _watched;
    // The last pid seen to die.
    private int _deadPid;
    private volatile bool _stopping;

    public PeerMonitor(ShmChannel channel) => _channel = channel;

    /// <summary>True if <paramref name="pid"/> is known to have died.</summary>
    public bool IsDead(int pid) => pid > 0 && Volatile.Read(ref _deadPid) == pid;

    /// <summary>Starts watching <paramref name="pid"/> unless it is already watched. Cheap when it is.</summary>
    public void Watch(int pid)
    {
        if (pid <= 0 || pid == Volatile.Read(ref _watched) || pid == Environment.ProcessId)
        {
            return;
        }

        lock (_gate)
        {
            if (_stopping || pid == _watched)
            {
                return;
            }

            _watched = pid;
            int fd = LibC.PidFdOpen(pid);
            if (fd < 0)
            {
                if (Marshal.GetLastPInvokeError() == ESRCH)
                {
                    MarkDead(pid);
                }

                // Otherwise (no pidfd support): the waiters' /proc checks notice the death.
                return;
            }

            var thread = new Thread(() => Loop(fd, pid)) { IsBackground = true, Name = "kaze-peer-watch" };
            thread.Start();
        }
    }

    /// <summary>Lets the watching thread end (within one poll slice).</summary>
    public void Stop() => _stopping = true;

    private void Loop(int fd, int pid)
    {
        try
        {
            LibC.PollFd poll = new() { Fd = fd, Events = LibC.POLLIN };
            while (!_stopping && Volatile.Read(ref _watched) == pid)
            {
                if (LibC.Poll(&poll, 1, PollSliceMs) > 0)
                {
                    MarkDead(pid);
                    return;
                }
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    private void MarkDead(int pid)
    {
        Volatile.Write(ref _deadPid, pid);
        _channel.WakeOwnWaiters();
    }
}
