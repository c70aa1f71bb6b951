using System.Runtime.InteropServices;

namespace Kaze.Core.Native;

/// <summary>The few libc calls the channel needs; Linux only.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int ENOENT = 2;
    public const int ETIMEDOUT = 110;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, int* uaddr, int op, int val, Timespec* timeout, int* uaddr2, int val3);

    [LibraryImport(Lib, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string oldPath, string newPath);

    [LibraryImport(Lib, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlink(string path);

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    public const short POLLIN = 1;

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxUid = 0x8;
    // struct statx: u32 stx_mask, u32 stx_blksize, u64 stx_attributes, u32 stx_nlink, u32 stx_uid: the same on every architecture.
    private const int StatxUidOffset = 20;

    /// <summary>The owner of <paramref name="path"/> itself (a symbolic link is not followed); false if it cannot be read.</summary>
    public static bool TryGetOwner(string path, out uint uid)
    {
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid, buffer) != 0)
        {
            uid = 0;
            return false;
        }

        uid = *(uint*)(buffer + StatxUidOffset);
        return true;
    }

    /// <summary>The owner of the open file <paramref name="fd"/>; false if it cannot be read.</summary>
    public static bool TryGetOwner(Microsoft.Win32.SafeHandles.SafeFileHandle fd, out uint uid)
    {
        byte* buffer = stackalloc byte[256];
        bool added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            if (Statx((int)fd.DangerousGetHandle(), "", AtEmptyPath, StatxUid, buffer) != 0)
            {
                uid = 0;
                return false;
            }
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }

        uid = *(uint*)(buffer + StatxUidOffset);
        return true;
    }

    /// <summary>pidfd_open(2): a descriptor that becomes readable when the process exits (Linux 5.3+); -1 if unavailable.</summary>
    public static int PidFdOpen(int pid) => (int)Syscall(434, (int*)(nint)pid, 0, 0, null, null, 0);
}
