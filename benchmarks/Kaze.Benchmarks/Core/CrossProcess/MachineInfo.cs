using System.Globalization;
using System.Runtime.InteropServices;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>What the figures were measured on: they mean little without it.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        string cpu = "unknown CPU";
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null)
            {
                cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }
        catch (IOException)
        {
            // Not Linux-like /proc: leave it unknown.
        }

        string load = "?";
        try
        {
            load = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            // Idem.
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} cores, {cpu}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, load average {load}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    }
}
