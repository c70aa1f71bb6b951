using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Kaze.Benchmarks.Sidecar;

/// <summary>Starting the real `kaze` and reading what a process uses.</summary>
internal static class SidecarHarnessSupport
{
    public static string KazeDll
    {
        get
        {
            string? path = typeof(SidecarHarnessSupport).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "KazeCliDll")?.Value;
            if (path is null || !File.Exists(path))
            {
                throw new InvalidOperationException($"kaze.dll not found at '{path}': build the solution in the same configuration first");
            }

            return Path.GetFullPath(path);
        }
    }

    public static string SelfDll => typeof(SidecarHarnessSupport).Assembly.Location;

    public static ProcessStartInfo Kaze(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        info.ArgumentList.Add(KazeDll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>Resident set size of a process in bytes, from /proc/&lt;pid&gt;/status (VmRSS).</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return -1;
    }

    /// <summary>CPU time (user + system) <paramref name="pid"/> has used, in seconds, from /proc (10 ms resolution).</summary>
    public static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    /// <summary>The machine's CPU time so far (all CPUs, from the first line of /proc/stat), in ticks.</summary>
    /// <param name="Total">Every kind of time, steal included.</param>
    /// <param name="Steal">Time the hypervisor gave to someone else while this guest had work to run.</param>
    public readonly record struct MachineCpu(long Total, long Steal)
    {
        public static MachineCpu Now()
        {
            // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is inside user.
            string[] fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long total = 0;
            for (int i = 1; i <= 8 && i < fields.Length; i++)
            {
                total += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }

            return new MachineCpu(total, fields.Length > 8 ? long.Parse(fields[8], CultureInfo.InvariantCulture) : 0);
        }

        /// <summary>The share of the machine's CPU time stolen by the hypervisor since <paramref name="earlier"/>, in percent.</summary>
        public double StolenPercentSince(MachineCpu earlier) =>
            Total > earlier.Total ? 100.0 * (Steal - earlier.Steal) / (Total - earlier.Total) : 0;
    }

    public static double Median(List<double> values)
    {
        values.Sort();
        return values.Count == 0 ? double.NaN : values[values.Count / 2];
    }

    public static string Us(double ticks) => (ticks * 1e6 / Stopwatch.Frequency).ToString("0.0", CultureInfo.InvariantCulture);
}
