using System.Runtime.InteropServices;

namespace Kaze.Sidecar.Supervision.Native;

/// <summary>The few libc calls the supervisor needs; Linux only.</summary>
internal static partial class LibC
{
    private const string Lib = "libc";

    public const int ESRCH = 3;
    public const int ENOENT = 2;
    public const int ENOEXEC = 8;
    public const int EACCES = 13;
    public const int ENOSYS = 38;

    /// <summary>access(2) mode: may the caller execute (or, for a directory, search) the file.</summary>
    public const int X_OK = 1;

    // Added after the kernel unified syscall numbers (5.1), so the same on x86-64 and arm64.
    private const long SysPidfdSendSignal = 424;
    private const long SysPidfdOpen = 434;

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Lib, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Access(string path, int mode);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long arg1, long arg2);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, SafeHandle fd, long arg2, long arg3, long arg4);

    /// <summary>pidfd_open(2): a descriptor that names this process, never a later one with the same pid.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall(SysPidfdOpen, pid, 0);

    /// <summary>pidfd_send_signal(2); fails with ESRCH once the process has exited, even if reaped.</summary>
    public static int PidfdSendSignal(SafeHandle pidfd, int signal) => (int)Syscall(SysPidfdSendSignal, pidfd, signal, 0, 0);
}
