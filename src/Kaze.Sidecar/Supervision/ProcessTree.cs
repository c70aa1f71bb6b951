using System.Globalization;
using Kaze.Sidecar.Supervision.Native;

namespace Kaze.Sidecar.Supervision;

/// <summary>
/// The descendants of a process, read from /proc: what the grace period's SIGKILL must reach
/// besides the host itself (a shell's children, a host's workers), which would otherwise live on
/// reparented to init.
/// </summary>
internal static class ProcessTree
{
    /// <summary>The pids whose parent chain leads to <paramref name="root"/> (not the root itself), as /proc shows them now.</summary>
    public static List<int> Descendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories("/proc");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        foreach (string entry in entries)
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || !ProcStat.TryReadParent(pid, out int parent))
            {
                continue;
            }

            if (!children.TryGetValue(parent, out List<int>? list))
            {
                children[parent] = list = [];
            }

            list.Add(pid);
        }

        var found = new List<int>();
        var pending = new Stack<int>();
        pending.Push(root);
        while (pending.Count > 0 && found.Count < 100_000)
        {
            if (children.TryGetValue(pending.Pop(), out List<int>? list))
            {
                foreach (int child in list)
                {
                    found.Add(child);
                    pending.Push(child);
                }
            }
        }

        return found;
    }

    /// <summary>SIGKILLs each of <paramref name="pids"/> (gone ones are skipped); returns how many were sent the signal.</summary>
    public static int Kill(IEnumerable<int> pids, int signal)
    {
        int sent = 0;
        foreach (int pid in pids)
        {
            if (LibC.Kill(pid, signal) == 0)
            {
                sent++;
            }
        }

        return sent;
    }
}
