using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kaze.Core;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze status [--json]</c>: the channels on this machine, read from their files in /dev/shm
/// without attaching to them (<see cref="ChannelInfo"/>): who serves each one, whether those
/// processes live, and how full each ring is.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print a JSON array for scripts instead of a table: one object per channel, with the fields named in docs/cli.md ([] when there is none). [default: false]",
        };
        var status = new Command(
            "status",
            "List the kaze channels on this machine (the files /dev/shm/kaze-*): the sidecar's and the host's pid and whether each is alive, and how full each ring is (TO HOST: bytes the host has not read yet; FROM HOST: bytes the sidecar has not read yet). " +
            "A channel whose sidecar is dead is stale: the next `kaze run` removes its file. Exit codes: 0 listed (also when there is none), 2 bad options.")
        {
            json,
        };
        status.Action = new UsageCheckedAction("status", (parse, ct) =>
        {
            IReadOnlyList<ChannelInfo> channels = ChannelInfo.List().OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
            StandardOutput.Writer.Write(parse.GetValue(json) ? ChannelStatusText.Json(channels) : ChannelStatusText.Table(channels));
            return Task.FromResult(0);
        });
        return status;
    }
}

/// <summary>The table and the JSON of <c>kaze status</c>.</summary>
internal static class ChannelStatusText
{
    /// <summary>The state of a channel, in order of precedence: the first that applies.</summary>
    /// <remarks>
    /// stale: the sidecar is dead (its file was left behind); closed: a side has closed its end
    /// (shutting down); host-gone: a host attached and is dead now; no-host: no host has attached
    /// (yet); live: both sides alive.
    /// </remarks>
    public static string State(ChannelInfo channel) => channel switch
    {
        { SidecarAlive: false } => "stale",
        { Closed: true } => "closed",
        { HostPid: not 0, HostAlive: false } => "host-gone",
        { HostPid: 0 } => "no-host",
        _ => "live",
    };

    public static string Table(IReadOnlyList<ChannelInfo> channels)
    {
        if (channels.Count == 0)
        {
            return "No kaze channels on this machine (no /dev/shm/kaze-* file). `kaze run -- <command>` creates one.\n";
        }

        var rows = new List<string[]> { new[] { "CHANNEL", "STATE", "SIDECAR", "HOST", "TO HOST", "FROM HOST" } };
        foreach (ChannelInfo channel in channels)
        {
            rows.Add(
            [
                channel.Name,
                State(channel),
                $"{channel.SidecarPid} {(channel.SidecarAlive ? "alive" : "dead")}",
                channel.HostPid == 0 ? "none" : $"{channel.HostPid} {(channel.HostAlive ? "alive" : "dead")}",
                Fill(channel.SidecarToHostUsed, channel.SidecarToHostCapacity),
                Fill(channel.HostToSidecarUsed, channel.HostToSidecarCapacity),
            ]);
        }

        int[] widths = new int[rows[0].Length];
        foreach (string[] row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        foreach (string[] row in rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                text.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            text.Append('\n');
        }

        int stale = channels.Count(c => !c.SidecarAlive);
        if (stale > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{stale} stale: the sidecar is dead and left its file; the next `kaze run` removes it.\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// A JSON array, one object per channel: name, file, state, sidecarPid, sidecarAlive, hostPid
    /// (0: none attached), hostAlive, closed, and sidecarToHost / hostToSidecar as
    /// { usedBytes, capacityBytes, percent }. Field names are a contract for scripts (docs/cli.md).
    /// </summary>
    public static string Json(IReadOnlyList<ChannelInfo> channels)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (ChannelInfo channel in channels)
            {
                json.WriteStartObject();
                json.WriteString("name", channel.Name);
                json.WriteString("file", channel.FilePath);
                json.WriteString("state", State(channel));
                json.WriteNumber("sidecarPid", channel.SidecarPid);
                json.WriteBoolean("sidecarAlive", channel.SidecarAlive);
                json.WriteNumber("hostPid", channel.HostPid);
                json.WriteBoolean("hostAlive", channel.HostAlive);
                json.WriteBoolean("closed", channel.Closed);
                Ring(json, "sidecarToHost", channel.SidecarToHostUsed, channel.SidecarToHostCapacity);
                Ring(json, "hostToSidecar", channel.HostToSidecarUsed, channel.HostToSidecarCapacity);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void Ring(Utf8JsonWriter json, string name, long used, int capacity)
    {
        json.WriteStartObject(name);
        json.WriteNumber("usedBytes", used);
        json.WriteNumber("capacityBytes", capacity);
        json.WriteNumber("percent", Math.Round(Percent(used, capacity), 1));
        json.WriteEndObject();
    }

    private static double Percent(long used, int capacity) => capacity <= 0 ? 0 : used * 100.0 / capacity;

    private static string Fill(long used, int capacity)
    {
        double percent = Percent(used, capacity);
        string shown = used > 0 && percent < 1 ? "<1" : percent.ToString("0", CultureInfo.InvariantCulture);
        return $"{Bytes(used)} of {Bytes(capacity)} ({shown}%)";
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };
}
