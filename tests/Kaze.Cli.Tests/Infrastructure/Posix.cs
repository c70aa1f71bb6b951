using System.Runtime.InteropServices;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>Signals by number, to any pid (System.Diagnostics.Process can only SIGKILL its own children).</summary>
internal static partial class Posix
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    private const int ESRCH = 3;

    /// <summary>geteuid(2).</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if no such process.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (pid <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "Only a single process may be signalled.");
        }

        if (NativeKill(pid, signal) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == ESRCH ? false : throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {errno}");
    }

    /// <summary>True while <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // Field 3, after the parenthesised command name: the state letter.
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int NativeKill(int pid, int signal);
}
