using System.Runtime.InteropServices;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>sched_setaffinity for the calling thread (Linux): keeps the two sides of a measurement on different cores.</summary>
internal static partial class CpuPinning
{
    public static void PinCurrentThread(int cpu)
    {
        if (cpu < 0 || cpu >= 64)
        {
            throw new HarnessException($"cannot pin to CPU {cpu}");
        }

        SetCurrentThread(1UL << cpu, $"CPU {cpu}");
    }

    /// <summary>Lets the calling thread run anywhere again; a child forked from it inherits that.</summary>
    public static void UnpinCurrentThread() => SetCurrentThread(ulong.MaxValue, "all CPUs");

    private static void SetCurrentThread(ulong mask, string what)
    {
        // pid 0: the calling thread. The kernel ignores bits of CPUs that do not exist.
        if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0)
        {
            throw new HarnessException($"sched_setaffinity to {what} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint size, ref ulong mask);
}
