using System.Globalization;

namespace Kaze.Sidecar.Supervision;

/// <summary>
/// The job-control fields of /proc/&lt;pid&gt;/stat (proc(5)): process group, session and the
/// foreground process group of the controlling terminal.
/// </summary>
/// <param name="ProcessGroup">Field 5, pgrp.</param>
/// <param name="Session">Field 6, session.</param>
/// <param name="TerminalForegroundGroup">Field 8, tpgid: -1 (or 0) when there is no controlling terminal.</param>
internal readonly record struct ProcStat(int ProcessGroup, int Session, int TerminalForegroundGroup)
{
    /// <summary>True when the process has a controlling terminal and its group is that terminal's foreground group.</summary>
    public bool IsInTerminalForeground => TerminalForegroundGroup > 0 && ProcessGroup == TerminalForegroundGroup;

    /// <summary>Reads /proc/&lt;pid&gt;/stat; false if the process or /proc is not there.</summary>
    public static bool TryRead(int pid, out ProcStat stat)
    {
        string text;
        try
        {
            text = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stat = default;
            return false;
        }

        return TryParse(text, out stat);
    }

    /// <summary>Reads the parent pid (field 4) of /proc/&lt;pid&gt;/stat; false if the process or /proc is not there.</summary>
    public static bool TryReadParent(int pid, out int parent)
    {
        parent = 0;
        string text;
        try
        {
            text = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        int close = text.LastIndexOf(')');
        // After ")": state(3) ppid(4).
        string[] fields = close < 0 ? [] : text[(close + 1)..].Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out parent);
    }

    /// <summary>
    /// Parses the text of a stat file. The command name (field 2) is in parentheses and may
    /// itself contain spaces and parentheses, so fields are counted from the last ')'.
    /// </summary>
    public static bool TryParse(string text, out ProcStat stat)
    {
        stat = default;
        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }

        // After ")": state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8).
        string[] fields = text[(close + 1)..].Split(' ', 7, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 6
            || !int.TryParse(fields[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int pgrp)
            || !int.TryParse(fields[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int session)
            || !int.TryParse(fields[5], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int tpgid))
        {
            return false;
        }

        stat = new ProcStat(pgrp, session, tpgid);
        return true;
    }
}
