namespace Kaze.Resolver.Caching;

/// <summary>How long a <see cref="CachingResolver"/> trusts an answer, and what it does when its inner resolver fails.</summary>
/// <remarks>
/// Defaults: <see cref="Ttl"/> 30 s, <see cref="NegativeTtl"/> 5 s, <see cref="MaxStaleness"/> 5 min,
/// <see cref="FailureRetryInterval"/> 2 s, <see cref="FailureLogInterval"/> 1 min,
/// <see cref="MaxEntries"/> 100,000. <see cref="Validate"/> lists every problem.
/// </remarks>
public sealed class CachingResolverOptions
{
    /// <summary>How long a found address (or a non-empty match) is served without asking again. Default 30 s.</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long "not known" (null, or an empty match) is served without asking again; at most
    /// <see cref="Ttl"/>, 0 to not remember it. Default 5 s: a node that has just registered is seen soon.
    /// </summary>
    public TimeSpan NegativeTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long past its expiry an answer may still be served while the inner resolver fails;
    /// 0 to never serve stale answers. Default 5 min.
    /// </summary>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After a failure answered from a stale entry, how long that entry is served without asking the
    /// inner resolver again, so that an outage does not cost a failed call per packet. Default 2 s.
    /// </summary>
    public TimeSpan FailureRetryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A failure of the inner resolver is logged at most once per key per this period. Default 1 min.</summary>
    public TimeSpan FailureLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How many keys (idents, and selectors of matches, counted apart) are remembered. Past it, entries
    /// beyond their staleness go first, then expired ones, then any. Default 100,000.
    /// </summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>Every problem with these options, one sentence each; empty if they are usable.</summary>
    /// <returns>The problems.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Ttl <= TimeSpan.Zero)
        {
            errors.Add($"Ttl is {Ttl}; it must be positive");
        }

        if (NegativeTtl < TimeSpan.Zero || NegativeTtl > Ttl)
        {
            errors.Add($"NegativeTtl is {NegativeTtl}; it must be between 0 and Ttl ({Ttl})");
        }

        if (MaxStaleness < TimeSpan.Zero)
        {
            errors.Add($"MaxStaleness is {MaxStaleness}; it must not be negative");
        }

        if (FailureRetryInterval <= TimeSpan.Zero)
        {
            errors.Add($"FailureRetryInterval is {FailureRetryInterval}; it must be positive");
        }

        if (FailureLogInterval < TimeSpan.Zero)
        {
            errors.Add($"FailureLogInterval is {FailureLogInterval}; it must not be negative");
        }

        if (MaxEntries < 1)
        {
            errors.Add($"MaxEntries is {MaxEntries}; it must be at least 1");
        }

        return errors;
    }
}
