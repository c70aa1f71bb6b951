using System.Globalization;
using Kaze.Core;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>Options of <c>channel</c>; defaults keep the whole run under a minute on two cores.</summary>
internal sealed class HarnessOptions
{
    public const string Usage =
        "usage: channel [--json FILE] [--messages N] [--seconds S] [--batch N] [--capacity BYTES] [--pin] [--only LIST]\n" +
        "  --json FILE    also write the figures as one flat JSON object\n" +
        "  --messages N   ring round trips to time (default 200000; sockets and the spin floor time min(N, 50000))\n" +
        "  --seconds S    measured seconds of each flood, after 0.5 s of warm-up (default 3)\n" +
        "  --batch N      ring flood: records per publish and per release (default 64)\n" +
        "  --capacity B   bytes per ring, a power of two (default 1048576, the channel's default)\n" +
        "  --pin          run this process on CPU 0 and every peer on CPU 1\n" +
        "  --only LIST    comma-separated subset of: " + AllScenarios;

    public const string AllScenarios = "flood64,uds-flood,uds-flood-unbatched,flood1024,rtt,spin-floor,uds-rtt,tcp-rtt,idle";

    public string? JsonPath { get; private set; }

    public int RoundTrips { get; private set; } = 200_000;

    public TimeSpan FloodDuration { get; private set; } = TimeSpan.FromSeconds(3);

    public int Batch { get; private set; } = 64;

    public ChannelOptions Channel { get; private set; } = new();

    /// <summary>Pin this process to CPU 0 and the peers to CPU 1, so the two sides never share a core.</summary>
    public bool Pin { get; private set; }

    public IReadOnlySet<string> Scenarios { get; private set; } = new HashSet<string>(AllScenarios.Split(','));

    public int SocketRoundTrips => Math.Min(RoundTrips, 50_000);

    public static HarnessOptions? Parse(string[] args, out string error)
    {
        var options = new HarnessOptions();
        var problems = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name == "--pin")
            {
                options.Pin = true;
                continue;
            }

            string? value = i + 1 < args.Length ? args[i + 1] : null;
            if (value is null)
            {
                problems.Add($"{name} needs a value");
                break;
            }

            i++;
            switch (name)
            {
                case "--json":
                    options.JsonPath = value;
                    break;
                case "--messages" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0:
                    options.RoundTrips = n;
                    break;
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 && s <= 600:
                    options.FloodDuration = TimeSpan.FromSeconds(s);
                    break;
                case "--batch" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int b) && b > 0:
                    options.Batch = b;
                    break;
                case "--capacity" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int c) && c >= 4096 && (c & (c - 1)) == 0:
                    options.Channel = new ChannelOptions { SidecarToHostCapacity = c, HostToSidecarCapacity = c };
                    break;
                case "--only":
                    var chosen = new HashSet<string>(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    var known = new HashSet<string>(AllScenarios.Split(','));
                    foreach (string unknown in chosen.Where(s => !known.Contains(s)))
                    {
                        problems.Add($"--only: unknown scenario '{unknown}'");
                    }

                    options.Scenarios = chosen;
                    break;
                case "--messages" or "--seconds" or "--batch" or "--capacity":
                    problems.Add($"{name} '{value}' is not a valid value");
                    break;
                default:
                    problems.Add($"unknown option '{name}'");
                    break;
            }
        }

        error = string.Join("; ", problems);
        return problems.Count == 0 ? options : null;
    }
}
