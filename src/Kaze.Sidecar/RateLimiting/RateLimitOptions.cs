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

    private const int MaxBurst = 1_000_000_000;

    private static readonly TimeSpan MaxMaxWait = TimeSpan.FromSeconds(60);

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
    /// The shape of one rule ("rateLimits:total", "rateLimits:perSource", each entry of
    /// "rateLimits:perBodyType"), as <see cref="SettingsCatalog"/> declares those settings.
    /// </summary>
    internal static readonly RecordShape<RateLimitRule> RuleShape = new(
        "a rule { \"permitsPerSecond\": N, \"burst\": N, \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION }",
        [
            new("permitsPerSecond", SettingKinds.Number(MinPermitsPerSecond, MaxPermitsPerSecond, "0.000001", "1000000000"), Required: true, "The sustained rate, a number above 0: permits added to the bucket per second."),
            new("burst", SettingKinds.Int(1, MaxBurst), Required: false, "The bucket's size: packets that may pass at once after a quiet spell. Default: one second's permits (at least 1)."),
            new("mode", SettingKinds.Choice(("reject", RateLimitMode.Reject), ("wait", RateLimitMode.Wait)), Required: false, "Over the limit: reject (a request is answered RET_RESOURCE_EXHAUSTED, a notify dropped) or wait (held until a permit is free, up to maxWait). Default reject."),
            new("maxWait", SettingKinds.Duration(TimeSpan.FromMilliseconds(1), MaxMaxWait), Required: false, "Wait mode only: the longest a packet is held, up to 60s. Default 100ms."),
        ],
        open: false,
        BuildRule);

    /// <summary>
    /// Reads the "rateLimits" settings of <paramref name="configuration"/> (the whole configuration)
    /// through <see cref="SettingsCatalog"/>. Every problem is listed in <paramref name="problems"/>,
    /// each naming its full key, the value and what is allowed; the result is only meaningful when
    /// there is none.
    /// </summary>
    public static RateLimitOptions Read(IConfiguration configuration, out List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        problems = [];
        return From(
            SettingsCatalog.RateLimitTotal.Read(configuration, problems),
            SettingsCatalog.RateLimitPerSource.Read(configuration, problems),
            SettingsCatalog.RateLimitPerBodyType.Read(configuration, problems),
            SettingsCatalog.RateLimitMaxPartitions.Read(configuration, problems) is var max && max > 0 ? max : DefaultMaxPartitions);
    }

    /// <summary>The options the settings describe.</summary>
    public static RateLimitOptions From(KazeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return From(
            settings.Get(SettingsCatalog.RateLimitTotal),
            settings.Get(SettingsCatalog.RateLimitPerSource),
            settings.Get(SettingsCatalog.RateLimitPerBodyType),
            settings.Get(SettingsCatalog.RateLimitMaxPartitions));
    }

    private static RateLimitOptions From(RateLimitRule? total, RateLimitRule? perSource, IReadOnlyList<KeyValuePair<string, RateLimitRule>>? bodyTypes, int maxPartitions)
    {
        var perBodyType = new Dictionary<string, RateLimitRule>(StringComparer.Ordinal);
        RateLimitRule? others = null;
        foreach ((string bodyType, RateLimitRule rule) in bodyTypes ?? [])
        {
            if (bodyType == "*")
            {
                others = rule;
            }
            else
            {
                perBodyType[bodyType] = rule;
            }
        }

        return new RateLimitOptions
        {
            Total = total,
            PerSource = perSource,
            PerBodyType = perBodyType,
            OtherBodyTypes = others,
            MaxPartitions = maxPartitions,
        };
    }

    private static RateLimitRule? BuildRule(RecordValues values, SettingProblems problems)
    {
        double permits = values.Get<double>("permitsPerSecond");
        long burst = values.Has("burst") ? values.Get<int>("burst") : Math.Max(1, (long)Math.Ceiling(permits));
        RateLimitMode mode = values.Get<RateLimitMode>("mode");
        TimeSpan maxWait = mode == RateLimitMode.Wait ? RateLimitRule.DefaultMaxWait : TimeSpan.Zero;
        if (values.Has("maxWait"))
        {
            if (mode != RateLimitMode.Wait)
            {
                problems.Add(values.Key + ":maxWait", "only applies with \"mode\": \"wait\"");
                return null;
            }

            maxWait = values.Get<TimeSpan>("maxWait");
        }

        string prefix = SectionName + ":";
        return new RateLimitRule
        {
            Name = values.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? values.Key[prefix.Length..] : values.Key,
            PermitsPerSecond = permits,
            Burst = burst,
            Mode = mode,
            MaxWait = maxWait,
        };
    }
}
