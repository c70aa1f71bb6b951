using System.Runtime.InteropServices;

namespace Kaze.Core.Native;

/// <summary>
/// Shared (not private) futex operations on a word in the mapped file: the kernel keys a shared
/// futex by inode and offset, so a waiter in one process is woken by a wake in another.
/// </summary>
internal static unsafe class Futex
{
    private const int FutexWait = 0;
    private const int FutexWake = 1;

    private static readonly long SyscallNumber = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => -1,
    };

    public static bool IsSupported => OperatingSystem.IsLinux() && SyscallNumber > 0;

    /// <summary>
    /// Sleeps while <c>*word == expected</c>, at most <paramref name="timeoutMs"/>. Returns when
    /// woken, on timeout, on a signal, or at once if the word already differs; the caller
    /// re-checks its condition in every case.
    /// </summary>
    public static void Wait(int* word, int expected, int timeoutMs)
    {
        LibC.Timespec ts;
        ts.Seconds = timeoutMs / 1000;
        ts.Nanoseconds = (timeoutMs % 1000) * 1_000_000L;
        LibC.Syscall(SyscallNumber, word, FutexWait, expected, &ts, null, 0);
    }

    /// <summary>Wakes every waiter on <paramref name="word"/>.</summary>
    public static void WakeAll(int* word) =>
        LibC.Syscall(SyscallNumber, word, FutexWake, int.MaxValue, null, null, 0);
}
