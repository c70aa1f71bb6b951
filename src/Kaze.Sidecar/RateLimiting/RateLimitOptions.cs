using System.Globalization;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// The "rateLimits" section, read and validated: a total limit, a limit per source ident, and
/// limits per body type ("*" for every body type not listed). No rule: no limit.
/// </summary>
/// <remarks>
/// <code>
/// "rateLimits": {
///   "total":       { "permitsPerSecond": 10000, "burst": 20000, "mode": "reject" },
///   "perSource":   { "permitsPerSecond": 1000, "mode": "wait", "maxWait": "50ms" },
///   "perBodyType": { "echo": { "permitsPerSecond": 100 }, "*": { "permitsPerSecond": 500 } },
///   "maxPartitions": 10000
/// }
/// </code>
/// <see cref="MaxPartitions"/> (default 10000) bounds the buckets kept for perSource and for
/// "*" each: sources and body types come from the network, so their number must not grow
/// without bound.
/// </remarks>
internal sealed record RateLimitOptions
{
    /// <summary>The section's name, which is also the plugin's.</summary>
    public const string SectionName = "rateLimits";

    /// <summary>The default of <see cref="MaxPartitions"/>.</summary>
    public const int DefaultMaxPartitions = 10_000;

    // Rates above this would need less than one tick of the system clock per permit (the message says 1000000000).
    private const double MaxPermitsPerSecond = 1e9;

    // Below this a bucket would take more than ~11 days to refill one permit: a mistake (the message says 0.000001).
    private const double MinPermitsPerSecond = 0.000_001;

    private const long MaxBurst = 1_000_000_000;

    private static readonly TimeSpan MaxMaxWait = TimeSpan.FromSeconds(60);

    private static readonly string[] SectionKeys = ["total", "perSource", "perBodyType", "maxPartitions"];

    private static readonly string[] RuleKeys = ["permitsPerSecond", "burst", "mode", "maxWait"];

    /// <summary>One bucket for everything that is limited.</summary>
    public RateLimitRule? Total { get; init; }

    /// <summary>One bucket per source ident (the sender node; this node for the local host).</summary>
    public RateLimitRule? PerSource { get; init; }

    /// <summary>One bucket per listed body type (ordinal, exact match).</summary>
    public IReadOnlyDictionary<string, RateLimitRule> PerBodyType { get; init; } = new Dictionary<string, RateLimitRule>(StringComparer.Ordinal);

    /// <summary>The "*" rule: one bucket per body type that is not listed.</summary>
    public RateLimitRule? OtherBodyTypes { get; init; }

    /// <summary>The most buckets kept for perSource and for "*", each.</summary>
    public int MaxPartitions { get; init; } = DefaultMaxPartitions;

    /// <summary>True when no rule is configured: nothing is limited and no middleware is added.</summary>
    public bool IsEmpty => Total is null && PerSource is null && PerBodyType.Count == 0 && OtherBodyTypes is null;

    /// <summary>Every rule, in the order counters list them.</summary>
    public IEnumerable<RateLimitRule> Rules
    {
        get
        {
            if (Total is not null)
            {
                yield return Total;
            }

            if (PerSource is not null)
            {
                yield return PerSource;
            }

            foreach (RateLimitRule rule in PerBodyType.Values)
            {
                yield return rule;
            }

            if (OtherBodyTypes is not null)
            {
                yield return OtherBodyTypes;
            }
        }
    }

    /// <summary>
    /// Reads <paramref name="section"/>. Every problem is listed in <paramref name="problems"/>,
    /// each naming its full key, the value and what is allowed; the result is only meaningful
    /// when there is none.
    /// </summary>
    public static RateLimitOptions Read(IConfiguration section, out List<string> problems)
    {
        var found = new List<string>();
        string root = section is IConfigurationSection s ? s.Path : SectionName;

        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!Contains(SectionKeys, child.Key))
            {
                found.Add($"{child.Path}: unknown setting; \"{root}\" has {string.Join(", ", SectionKeys)}");
            }
        }

        RateLimitRule? total = ReadRule(section.GetSection("total"), "total", found);
        RateLimitRule? perSource = ReadRule(section.GetSection("perSource"), "perSource", found);

        var perBodyType = new Dictionary<string, RateLimitRule>(StringComparer.Ordinal);
        RateLimitRule? others = null;
        IConfigurationSection bodyTypes = section.GetSection("perBodyType");
        if (!string.IsNullOrEmpty(bodyTypes.Value))
        {
            found.Add($"{bodyTypes.Path}: must be an object of body type → rule, e.g. {{ \"echo\": {{ \"permitsPerSecond\": 100 }}, \"*\": {{ \"permitsPerSecond\": 1000 }} }}");
        }

        foreach (IConfigurationSection bodyType in bodyTypes.GetChildren())
        {
            RateLimitRule? rule = ReadRule(bodyType, "perBodyType:" + bodyType.Key, found);
            if (rule is null)
            {
                continue;
            }

            if (bodyType.Key == "*")
            {
                others = rule;
            }
            else
            {
                perBodyType[bodyType.Key] = rule;
            }
        }

        int maxPartitions = DefaultMaxPartitions;
        IConfigurationSection partitions = section.GetSection("maxPartitions");
        if (partitions.Value is { } text
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out maxPartitions) || maxPartitions < 1))
        {
            found.Add($"{partitions.Path}: '{text}' is not a whole number of at least 1");
        }

        problems = found;
        return new RateLimitOptions
        {
            Total = total,
            PerSource = perSource,
            PerBodyType = perBodyType,
            OtherBodyTypes = others,
            MaxPartitions = maxPartitions,
        };
    }

    private static RateLimitRule? ReadRule(IConfigurationSection section, string name, List<string> problems)
    {
        if (!string.IsNullOrEmpty(section.Value))
        {
            problems.Add($"{section.Path}: must be an object {{ \"permitsPerSecond\": N, \"burst\": N, \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION }}, not '{section.Value}'");
            return null;
        }

        if (!section.Exists())
        {
            return null;
        }

        int before = problems.Count;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!Contains(RuleKeys, child.Key))
            {
                problems.Add($"{child.Path}: unknown setting; a rule has {string.Join(", ", RuleKeys)}");
            }
        }

        double permits = 0;
        string? permitsText = section["permitsPerSecond"];
        if (permitsText is null)
        {
            problems.Add($"{section.Path}:permitsPerSecond: missing; the sustained rate, a number above 0");
        }
        else if (!double.TryParse(permitsText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out permits)
            || permits < MinPermitsPerSecond || permits > MaxPermitsPerSecond)
        {
            problems.Add($"{section.Path}:permitsPerSecond: '{permitsText}' is not a number from 0.000001 to 1000000000");
        }

        long burst = Math.Max(1, (long)Math.Ceiling(permits));
        string? burstText = section["burst"];
        if (burstText is not null
            && (!long.TryParse(burstText, NumberStyles.None, CultureInfo.InvariantCulture, out burst) || burst < 1 || burst > MaxBurst))
        {
            problems.Add($"{section.Path}:burst: '{burstText}' is not a whole number from 1 to {MaxBurst}");
        }

        RateLimitMode mode = RateLimitMode.Reject;
        string? modeText = section["mode"];
        if (modeText is not null)
        {
            if (string.Equals(modeText, "wait", StringComparison.OrdinalIgnoreCase))
            {
                mode = RateLimitMode.Wait;
            }
            else if (!string.Equals(modeText, "reject", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"{section.Path}:mode: '{modeText}' is not \"reject\" or \"wait\"");
            }
        }

        TimeSpan maxWait = mode == RateLimitMode.Wait ? RateLimitRule.DefaultMaxWait : TimeSpan.Zero;
        string? maxWaitText = section["maxWait"];
        if (maxWaitText is not null)
        {
            if (mode != RateLimitMode.Wait)
            {
                problems.Add($"{section.Path}:maxWait: only applies with \"mode\": \"wait\"");
            }
            else if (!SettingValues.TryParseDuration(maxWaitText, out maxWait, out string error))
            {
                problems.Add($"{section.Path}:maxWait: {error}");
            }
            else if (maxWait <= TimeSpan.Zero || maxWait > MaxMaxWait)
            {
                problems.Add($"{section.Path}:maxWait: {maxWaitText} must be more than 0 and at most {MaxMaxWait.TotalSeconds}s");
            }
        }

        if (problems.Count > before)
        {
            return null;
        }

        return new RateLimitRule
        {
            Name = name,
            PermitsPerSecond = permits,
            Burst = burst,
            Mode = mode,
            MaxWait = maxWait,
        };
    }

    private static bool Contains(string[] keys, string key)
    {
        foreach (string k in keys)
        {
            // Configuration keys are case-insensitive (environment variables arrive in lower case).
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
