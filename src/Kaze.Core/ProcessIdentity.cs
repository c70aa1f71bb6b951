using System.Globalization;
using Kaze.Core.Native;

namespace Kaze.Core;

/// <summary>
/// A process as the channel file records it: pid plus its start time (field 22 of
/// /proc/&lt;pid&gt;/stat, clock ticks since boot), so a recycled pid is not taken for the
/// process that wrote the file.
/// </summary>
internal static class ProcessIdentity
{
    private static ulong? s_selfStartTime;

    public static int CurrentPid => Environment.ProcessId;

    public static ulong CurrentStartTime => s_selfStartTime ??= ReadStartTime(Environment.ProcessId, out _) ?? 0;

    /// <summary>
    /// True while the process exists, is not a zombie, and (when <paramref name="startTime"/>
    /// is known, i.e. not 0) started at that time.
    /// </summary>
    public static bool IsAlive(int pid, ulong startTime)
    {
        if (pid <= 0)
        {
            return false;
        }

        ulong? actual = ReadStartTime(pid, out char state);
        if (actual is null)
        {
            // No /proc entry: gone. If /proc itself is unavailable, fall back to kill(pid, 0).
            return !Directory.Exists("/proc/self") && LibC.Kill(pid, 0) == 0;
        }

        if (state is 'Z' or 'X' or 'x')
        {
            return false;
        }

        return startTime == 0 || actual.Value == startTime;
    }

    /// <summary>Reads the start time and state of a process, or null if it does not exist.</summary>
    public static ulong? ReadStartTime(int pid, out char state)
    {
        state = '?';
        string text;
        try
        {
            text = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid ..." — comm may hold spaces and parentheses, so split after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return null;
        }

        string[] fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        if (fields.Length < 20 || fields[0].Length == 0)
        {
            return null;
        }

        state = fields[0][0];
        return ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start) ? start : null;
    }
}
