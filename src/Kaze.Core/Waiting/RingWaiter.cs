using System.Diagnostics;
using Kaze.Core.Native;

namespace Kaze.Core.Waiting;

/// <summary>
/// Blocks one ring end until its condition holds: adaptive spin (<see cref="SpinBudget"/>), then
/// sleep on a futex word in the file. The other side wakes the futex only when the word says someone sleeps, so the fast
/// path of both sides makes no system call.
/// </summary>
/// <remarks>
/// The spin is polite: after about a microsecond of pure spinning it offers its core to any
/// runnable thread (sched_yield) every ~0.5 µs, because on a small machine the thread it waits
/// for may be queued on this very core. A yield that comes back late means another thread ran
/// here: this core is shared with a runnable thread. That time does not count against the spin
/// (which so ends after at most four budgets of wall time), and the waiter moves itself to another
/// CPU once (at most every 10 ms; see <see cref="CpuAffinity.TryMoveOffCurrentCpu"/>), since
/// the kernel keeps recently-run threads where they are and two spinners that landed on one
/// core can stay there for hundreds of milliseconds, each round trip paying context switches,
/// while the other core idles. A move after which the core is shared again within 1 ms found no
/// free core (more polling threads than cores, as in a mesh call on two cores): the least time
/// between moves then doubles, up to 1 s, until a move helps (<see cref="MovePacer"/>).
///
/// A <see cref="Companion"/> is polled at each yield, and told before the waiter sleeps: the
/// sidecar's edge reader so reads the peer connections too, and while it is awake their own
/// threads need not poll.
///
/// The sleep protocol (Dekker-style; both halves need a full fence between their store and load):
/// <code>
/// waiter:  futex = 1 (Interlocked, full fence); if condition holds: futex = 0, done; else FUTEX_WAIT(futex, 1)
/// waker:   publish position (Interlocked, full fence); if futex != 0: futex = 0, FUTEX_WAKE(futex)
/// </code>
/// Either the waiter sees the new position, or the waker sees futex == 1; a wake that lands
/// between the waiter's check and its FUTEX_WAIT finds the word changed and the wait returns at once.
/// Sleeps are sliced to <see cref="LivenessInterval"/> so the peer's pid is checked while waiting.
/// </remarks>
internal sealed unsafe class RingWaiter
{
    /// <summary>How often a sleeping waiter checks that the peer process still exists.</summary>
    public static readonly TimeSpan LivenessInterval = TimeSpan.FromMilliseconds(100);

    private static readonly long LivenessTicks = (long)(LivenessInterval.TotalSeconds * Stopwatch.Frequency);
    // sched_yield returns in ~0.6 µs when nothing else wants the core; later than this, something ran.
    private static readonly long SharedCoreTicks = Stopwatch.Frequency / 1_000_000 * 3;
    // Pauses (~27 ns each here) before the first yield: a peer on another core answers within these.
    private const int SpinsBeforeYielding = 32;
    private const int SpinsBetweenYields = 16;
    // A spin extended by the time other threads ran (see Spin) still ends after this many budgets.
    private const int LongestSpinFactor = 4;

    private readonly ShmChannel _channel;
    // The futex word this end sleeps on: the data word for a reader, the space word for a writer.
    private readonly int* _futex;
    // How long to spin before sleeping (see SpinBudget); used by the one thread waiting at a time.
    private SpinBudget _budget;
    // When this waiter moves itself off a shared core.
    private MovePacer _moves;
    private AsyncWaitWorker? _asyncWorker;

    public RingWaiter(ShmChannel channel, int* futex)
    {
        _channel = channel;
        _futex = futex;
    }

    /// <summary>Work this end's thread does between its polls (<see cref="IReaderCompanion"/>); set before the first wait.</summary>
    public IReaderCompanion? Companion { get; set; }

    /// <summary>Number of waits that went to sleep in the kernel (for metrics).</summary>
    public long BlockedWaits { get; private set; }

    /// <summary>Waits until <paramref name="condition"/> holds, the channel closes, the peer dies, time runs out or <paramref name="ct"/> fires.</summary>
    /// <param name="condition">What ends the wait.</param>
    /// <param name="timeoutTicks">Stopwatch ticks; negative means no timeout.</param>
    /// <param name="ct">Ends the wait with Cancelled.</param>
    public ChannelStatus Wait<TCondition>(TCondition condition, long timeoutTicks, CancellationToken ct)
        where TCondition : struct, IWaitCondition
    {
        // The spin reads the file too: count it as a wait so Dispose does not unmap under it.
        if (!_channel.EnterWait())
        {
            return ChannelStatus.Closed;
        }

        try
        {
            if (condition.IsSatisfied())
            {
                return ChannelStatus.Ok;
            }

            long start = Stopwatch.GetTimestamp();
            long deadline = timeoutTicks < 0 ? long.MaxValue : start + timeoutTicks;
            if (Spin(condition, start, deadline, ct))
            {
                return ChannelStatus.Ok;
            }

            ChannelStatus status = Sleep(condition, deadline, ct);
            AfterSleep(status, start);
            return status;
        }
        finally
        {
            _channel.ExitWait();
        }
    }

    private bool Spin<TCondition>(TCondition condition, long start, long deadline, CancellationToken ct)
        where TCondition : struct, IWaitCondition
    {
        long budget = _budget.Begin();
        long began = start;
        long end = Math.Min(deadline, start + budget);
        IReaderCompanion? companion = Companion;
        int i = 0;
        while (true)
        {
            if (condition.IsSatisfied())
            {
                // Spinning paid off: allow a little more next time.
                _budget.Succeeded(budget);
                return true;
            }

            // One pause per check: Thread.SpinWait(n) is normalised to far longer on some CPUs.
            Pause();
            if (++i < SpinsBeforeYielding || i % SpinsBetweenYields != 0)
            {
                continue;
            }

            long before = Stopwatch.GetTimestamp();
            Thread.Yield();
            long now = Stopwatch.GetTimestamp();
            if (now - before > SharedCoreTicks)
            {
                // Other threads ran on this core meanwhile: that time was theirs, not this spin's.
                // Counted, a waiter held off its core for longer than its budget would find its
                // spin over at once and sleep, and pay a wake-up, just as the record is due.
                end = Math.Min(Math.Min(deadline, began + LongestSpinFactor * budget), end + (now - before));
                if (_moves.SharedAt(now))
                {
                    CpuAffinity.TryMoveOffCurrentCpu();
                }
            }

            if (companion is not null && companion.Poll())
            {
                if (now >= deadline || ct.IsCancellationRequested || _channel.CheckOpen() != ChannelStatus.Ok || _channel.IsPeerKnownDead)
                {
                    // Busy as the companion may keep it, the wait still ends: the sleep's checks
                    // report why at once.
                    companion.Sleeping();
                    return false;
                }

                // The companion's work came while this thread polled: the spin paid off as if the
                // record had come, and a new one begins.
                _budget.Succeeded(budget);
                budget = _budget.Begin();
                began = Stopwatch.GetTimestamp();
                end = Math.Min(deadline, began + budget);
                continue;
            }

            if (now >= end)
            {
                _budget.Failed(budget);
                companion?.Sleeping();
                return false;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Pause()
    {
        if (System.Runtime.Intrinsics.X86.X86Base.IsSupported)
        {
            System.Runtime.Intrinsics.X86.X86Base.Pause();
        }
        else if (System.Runtime.Intrinsics.Arm.ArmBase.IsSupported)
        {
            System.Runtime.Intrinsics.Arm.ArmBase.Yield();
        }
        else
        {
            Thread.SpinWait(1);
        }
    }

    /// <summary>A wait that began at <paramref name="start"/> ended in (or after) a sleep: the budget learns from it (<see cref="SpinBudget.Slept"/>).</summary>
    private void AfterSleep(ChannelStatus status, long start)
    {
        if (status == ChannelStatus.Ok)
        {
            _budget.Slept(start, Stopwatch.GetTimestamp());
        }
    }

    private ChannelStatus Sleep<TCondition>(TCondition condition, long deadline, CancellationToken ct)
        where TCondition : struct, IWaitCondition
    {
        if (!_channel.EnterWait())
        {
            return ChannelStatus.Closed;
        }

        // Cancellation wakes the sleeper at once instead of at the next liveness slice.
        CancellationTokenRegistration cancellation = ct.CanBeCanceled
            ? ct.UnsafeRegister(static w => ((RingWaiter)w!).Wake(), this)
            : default;
        try
        {
            _channel.WatchPeer();
            long lastLiveness = Stopwatch.GetTimestamp();
            bool slept = false;
            while (true)
            {
                // Announce the sleep; the Interlocked store is the full fence the protocol needs
                // between this store and the loads of the condition below.
                Interlocked.Exchange(ref *_futex, 1);
                if (condition.IsSatisfied())
                {
                    return Done(ChannelStatus.Ok);
                }

                ChannelStatus state = _channel.CheckOpen();
                if (state != ChannelStatus.Ok)
                {
                    // The other side may have published and then closed between the condition's
                    // load and the state's: look once more, so a reader drains before Closed.
                    return Done(!_channel.IsDisposed && condition.IsSatisfied() ? ChannelStatus.Ok : state);
                }

                if (ct.IsCancellationRequested)
                {
                    return Done(ChannelStatus.Cancelled);
                }

                if (_channel.IsPeerKnownDead)
                {
                    return Done(condition.IsSatisfied() ? ChannelStatus.Ok : ChannelStatus.PeerGone);
                }

                long now = Stopwatch.GetTimestamp();
                if (now >= deadline)
                {
                    return Done(ChannelStatus.TimedOut);
                }

                if (now - lastLiveness >= LivenessTicks)
                {
                    lastLiveness = now;
                    if (!_channel.IsPeerAlive())
                    {
                        // One last look: the peer may have written just before it died.
                        return Done(condition.IsSatisfied() ? ChannelStatus.Ok : ChannelStatus.PeerGone);
                    }
                }

                long slice = Math.Min(deadline - now, LivenessTicks - (now - lastLiveness));
                int sliceMs = (int)Math.Clamp(slice * 1000 / Stopwatch.Frequency, 1, 100);
                if (!slept)
                {
                    slept = true;
                    BlockedWaits++;
                }

                Futex.Wait(_futex, 1, sliceMs);
            }
        }
        finally
        {
            cancellation.Dispose();
            _channel.ExitWait();
        }
    }

    private ChannelStatus Done(ChannelStatus status)
    {
        // Not sleeping any more: spare the other side a useless wake system call.
        Volatile.Write(ref *_futex, 0);
        return status;
    }

    /// <summary>Wakes this end if it sleeps (used by cancellation and close).</summary>
    public void Wake()
    {
        Interlocked.Exchange(ref *_futex, 0);
        Futex.WakeAll(_futex);
    }

    /// <summary>
    /// Called by the other end after it published: the full fence came with its Interlocked
    /// publish, so a plain load of the futex word suffices here.
    /// </summary>
    public static void WakeIfSleeping(int* futex)
    {
        if (Volatile.Read(ref *futex) != 0)
        {
            WakeSlow(futex);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void WakeSlow(int* futex)
    {
        if (Interlocked.Exchange(ref *futex, 0) != 0)
        {
            Futex.WakeAll(futex);
        }
    }

    /// <summary>
    /// Waits without blocking the caller: a short spin on the caller's thread, then the blocking
    /// wait runs on this end's own worker thread (one per ring end, created on first use).
    /// </summary>
    public ValueTask<ChannelStatus> WaitAsync<TCondition>(TCondition condition, CancellationToken ct)
        where TCondition : struct, IWaitCondition
    {
        if (!_channel.EnterWait())
        {
            return new ValueTask<ChannelStatus>(ChannelStatus.Closed);
        }

        long start;
        try
        {
            if (condition.IsSatisfied())
            {
                return new ValueTask<ChannelStatus>(ChannelStatus.Ok);
            }

            if (ct.IsCancellationRequested)
            {
                return new ValueTask<ChannelStatus>(ChannelStatus.Cancelled);
            }

            start = Stopwatch.GetTimestamp();
            if (Spin(condition, start, long.MaxValue, ct))
            {
                return new ValueTask<ChannelStatus>(ChannelStatus.Ok);
            }
        }
        finally
        {
            _channel.ExitWait();
        }

        AsyncWaitWorker worker = _asyncWorker ??= new AsyncWaitWorker(_channel);
        return new ValueTask<ChannelStatus>(worker.Run(
            () =>
            {
                ChannelStatus status = Sleep(condition, long.MaxValue, ct);

                // The caller awaits this before its next wait: no other wait runs meanwhile.
                AfterSleep(status, start);
                return status;
            },
            ct,
            this));
    }

    /// <summary>Stops the worker thread, if any, after the channel has been closed.</summary>
    public void StopWorker() => _asyncWorker?.Stop();
}
