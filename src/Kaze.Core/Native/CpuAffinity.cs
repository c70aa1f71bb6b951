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

    /// <summary>
    /// Narrows the calling thread's affinity to its allowed CPUs minus the current one (the kernel
    /// migrates it before the call returns), then restores the mask it had, so the thread lands
    /// on another CPU but stays free to move. False, with nothing changed, if no other CPU is
    /// allowed or the calls fail.
    /// </summary>
    public static bool TryMoveOffCurrentCpu()
    {
        ulong* allowed = stackalloc ulong[MaskWords];
        ulong* others = stackalloc ulong[MaskWords];
        if (GetAffinity(0, MaskBytes, allowed) != 0)
        {
            return false;
        }

        int cpu = GetCpu();
        if (cpu < 0 || cpu >= MaskWords * 64)
        {
            return false;
        }

        bool any = false;
        for (int i = 0; i < MaskWords; i++)
        {
            others[i] = allowed[i];
        }

        others[cpu / 64] &= ~(1UL << (cpu % 64));
        for (int i = 0; i < MaskWords; i++)
        {
            any |= others[i] != 0;
        }

        if (!any || SetAffinity(0, MaskBytes, others) != 0)
        {
            return false;
        }

        SetAffinity(0, MaskBytes, allowed);
        return true;
    }

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
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }

        return SetAffinity(0, MaskBytes, mask) == 0;
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int GetAffinity(int tid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SetAffinity(int tid, nuint size, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    private static partial int GetCpu();
}
