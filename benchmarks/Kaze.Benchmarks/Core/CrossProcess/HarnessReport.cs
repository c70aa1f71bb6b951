using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>The figures of one run: printed as one table, and written as one flat JSON object of numbers.</summary>
internal sealed class HarnessReport(string machine)
{
    private readonly List<KeyValuePair<string, double>> _figures = [];
    private readonly Dictionary<string, double> _byName = [];

    /// <summary>Records a figure; one that could not be measured (NaN) is left out of the table and the JSON.</summary>
    public void Add(string name, double value)
    {
        if (!double.IsFinite(value))
        {
            return;
        }

        _figures.Add(new(name, value));
        _byName[name] = value;
    }

    public void AddLatency(string prefix, LatencyStats stats)
    {
        Add(prefix + "_p50_us", stats.P50Us);
        Add(prefix + "_p99_us", stats.P99Us);
        Add(prefix + "_p999_us", stats.P999Us);
        Add(prefix + "_max_us", stats.MaxUs);
        Add(prefix + "_mean_us", stats.MeanUs);
        Add(prefix + "_round_trips", stats.Count);
    }

    public void WriteJson(string path)
    {
        using FileStream file = File.Create(path);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        foreach ((string name, double value) in _figures)
        {
            json.WriteNumber(name, Math.Round(value, 4));
        }

        json.WriteEndObject();
    }

    public void PrintTable(TextWriter output)
    {
        var rows = new List<string[]> { new[] { "figure", "value", "target", "met", "baseline (same run)" } };
        Row(rows, "flood_64_msgs_per_s", Rate, "≥ 20 M/s", v => v >= 20e6, Ratio("flood_64_msgs_per_s", "uds_flood_64_msgs_per_s", "UDS", Rate, higherIsBetter: true));
        Row(rows, "flood_1024_msgs_per_s", Rate, "", null, "");
        Row(rows, "flood_1024_bytes_per_s", Bytes, "≥ 3 GB/s", v => v >= 3e9, "");
        Row(rows, "rtt_p50_us", Us, "≤ 0.5 µs", v => v <= 0.5, Ratio("rtt_p50_us", "uds_rtt_p50_us", "UDS", Us, higherIsBetter: false) + Also("tcp_rtt_p50_us", "TCP"));
        Row(rows, "rtt_p99_us", Us, "≤ 2 µs", v => v <= 2, Also("uds_rtt_p99_us", "UDS", first: true) + Also("tcp_rtt_p99_us", "TCP"));
        Row(rows, "rtt_p999_us", Us, "", null, Also("uds_rtt_p999_us", "UDS", first: true) + Also("tcp_rtt_p999_us", "TCP"));
        Row(rows, "rtt_max_us", Us, "", null, Also("uds_rtt_max_us", "UDS", first: true) + Also("tcp_rtt_max_us", "TCP"));
        Row(rows, "rtt_blocked_waits", v => v.ToString("0", CultureInfo.InvariantCulture), "", null, Also("rtt_peer_blocked_waits", "peer", first: true, format: v => v.ToString("0", CultureInfo.InvariantCulture)) + " (sleeps in the kernel)");
        Row(rows, "spin_floor_rtt_p50_us", Us, "", null, Also("spin_floor_rtt_p99_us", "p99", first: true) + " (two words bounced by busy spin)");
        Row(rows, "idle_wait_cpu_percent", v => $"{v:0.00} %", "< 1 % of a core", v => v < 1, Also("idle_wait_thread_cpu_percent", "waiting thread alone", first: true, format: v => $"{v:0.000} %") + " (process: utime+stime, 10 ms ticks)");
        Row(rows, "idle_wake_latency_us", Us, "", null, "futex wake of a sleeping reader");
        Row(rows, "uds_flood_64_msgs_per_s", Rate, "", null, "1024 frames per send()");
        Row(rows, "uds_flood_64_unbatched_msgs_per_s", Rate, "", null, "one send() per message; issue: ~0.85 M/s");
        Row(rows, "uds_rtt_p50_us", Us, "", null, "issue: ~41 µs");
        Row(rows, "uds_rtt_p99_us", Us, "", null, "");
        Row(rows, "tcp_rtt_p50_us", Us, "", null, "");
        Row(rows, "tcp_rtt_p99_us", Us, "", null, "");

        output.WriteLine();
        output.WriteLine("Kaze channel, two processes: " + machine);
        var widths = new int[rows[0].Length];
        foreach (string[] row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        for (int r = 0; r < rows.Count; r++)
        {
            var line = new StringBuilder();
            for (int i = 0; i < rows[r].Length; i++)
            {
                line.Append(i == 0 ? "| " : " | ").Append(i is 1 ? rows[r][i].PadLeft(widths[i]) : rows[r][i].PadRight(widths[i]));
            }

            output.WriteLine(line.Append(" |").ToString());
            if (r == 0)
            {
                output.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"(ring capacity {Get("ring_capacity_bytes")} B, flood batch {Get("flood_batch")}, {Get("flood_seconds"):0.#} s per flood; {Get("rtt_round_trips")} ring round trips, {Get("uds_rtt_round_trips")} per socket; run took {Get("run_seconds"):0.0} s)"));
    }

    private void Row(List<string[]> rows, string name, Func<double, string> format, string target, Func<double, bool>? met, string baseline)
    {
        if (_byName.TryGetValue(name, out double value))
        {
            rows.Add([name, format(value), target, met is null ? "" : met(value) ? "yes" : "NO", baseline]);
        }
    }

    /// <summary>The baseline figure and how many times better the ring's is (below 1: the baseline won).</summary>
    private string Ratio(string ring, string baseline, string label, Func<double, string> format, bool higherIsBetter)
    {
        if (!_byName.TryGetValue(baseline, out double theirs) || !_byName.TryGetValue(ring, out double ours) || ours <= 0 || theirs <= 0)
        {
            return "";
        }

        double ratio = higherIsBetter ? ours / theirs : theirs / ours;
        string how = higherIsBetter ? $"ring/{label}" : $"{label}/ring";
        return string.Create(CultureInfo.InvariantCulture, $"{label} {format(theirs)} ({how} {ratio:0.##}×)");
    }

    private string Also(string name, string label, bool first = false, Func<double, string>? format = null)
    {
        if (!_byName.TryGetValue(name, out double value))
        {
            return "";
        }

        return (first ? "" : ", ") + label + " " + (format ?? Us)(value);
    }

    private string Get(string name) =>
        _byName.TryGetValue(name, out double v) ? v.ToString("0.##", CultureInfo.InvariantCulture) : "-";

    private static string Rate(double v) => string.Create(CultureInfo.InvariantCulture, $"{v / 1e6:0.00} M/s");

    private static string Bytes(double v) => string.Create(CultureInfo.InvariantCulture, $"{v / 1e9:0.00} GB/s");

    private static string Us(double v) => string.Create(CultureInfo.InvariantCulture, $"{v:0.00} µs");
}
