using System.Runtime.InteropServices;

namespace Kaze.Core.Native;

/// <summary>
/// Moves the calling thread off the CPU it runs on, once, without pinning it (Linux
/// sched_getaffinity/sched_setaffinity on the calling thread).
/// </summary>
internal static unsafe partial class CpuAffinity
{
    private const int MaskWords = 16; // 1,024 CPUs
    private const nuint MaskBytes = MaskWords * sizeof(ulong);

    /// <summary>The CPU the calling thread runs on; -1 if unknown.</summary>
    public static int CurrentCpu => GetCpu();

    // Set when a move could not be undone cleanly: no more moves in this process.
    private static volatile bool s_disabled;

    /// <summary>
    /// Moves the calling thread to another CPU without pinning it: narrows its affinity to every
    /// other CPU (the kernel migrates it before the call returns), then widens it again. Done only
    /// when the thread may run on every online CPU, so "widen again" can be "all CPUs", which
    /// leaves the kernel's bookkeeping as if the thread had never been narrowed: a cpuset that
    /// later grows is followed, as before. A thread restricted by the user (taskset) or by a
    /// cpuset narrower than the machine is left alone. False, with nothing changed, when the
    /// thread is restricted, no other CPU is online, or a call fails; if widening fails the
    /// original mask is put back and moves stop for the process.
    /// </summary>
    public static bool TryMoveOffCurrentCpu()
    {
        if (s_disabled)
        {
            return false;
        }

        ulong* allowed = stackalloc ulong[MaskWords];
        ulong* others = stackalloc ulong[MaskWords];
        if (GetAffinity(0, MaskBytes, allowed) != 0)
        {
            return false;
        }

        int cpu = GetCpu();
        int count = 0;
        for (int i = 0; i < MaskWords; i++)
        {
            count += System.Numerics.BitOperations.PopCount(allowed[i]);
            others[i] = allowed[i];
        }

        if (cpu < 0 || cpu >= MaskWords * 64 || count < 2 || count != OnlineCpus())
        {
            return false;
        }

        others[cpu / 64] &= ~(1UL << (cpu % 64));
        if (SetAffinity(0, MaskBytes, others) != 0)
        {
            return false;
        }

        ulong* all = stackalloc ulong[MaskWords];
        for (int i = 0; i < MaskWords; i++)
        {
            all[i] = ulong.MaxValue;
        }

        if (SetAffinity(0, MaskBytes, all) != 0)
        {
            s_disabled = true;
            SetAffinity(0, MaskBytes, allowed);
        }

        return true;
    }

    /// <summary>CPUs online now (sysconf(_SC_NPROCESSORS_ONLN)); -1 if unknown.</summary>
    internal static int OnlineCpus() => (int)SysConf(ScNProcessorsOnline);

    /// <summary>The CPUs the calling thread may run on.</summary>
    public static IReadOnlyList<int> AllowedCpus()
    {
        ulong* mask = stackalloc ulong[MaskWords];
        var cpus = new List<int>();
        if (GetAffinity(0, MaskBytes, mask) == 0)
        {
            for (int cpu = 0; cpu < MaskWords * 64; cpu++)
            {
                if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0)
                {
                    cpus.Add(cpu);
                }
            }
        }

        return cpus;
    }

    /// <summary>Sets the calling thread's allowed CPUs; false if the kernel refused.</summary>
    public static bool TrySetAllowedCpus(IEnumerable<int> cpus)
    {
        ulong* mask = stackalloc ulong[MaskWords];
        for (int i = 0; i < MaskWords; i++)
        {
            mask[i] = 0;
        }

        foreach (int cpu in cpus)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(cpu);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, MaskWords * 64);
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }

        return SetAffinity(0, MaskBytes, mask) == 0;
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity")]
    private static partial int GetAffinity(int tid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity")]
    private static partial int SetAffinity(int tid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    private static partial int GetCpu();

    // _SC_NPROCESSORS_ONLN in glibc and musl.
    private const int ScNProcessorsOnline = 84;

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}
