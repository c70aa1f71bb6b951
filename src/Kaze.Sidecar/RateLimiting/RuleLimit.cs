namespace Kaze.Sidecar.RateLimiting;

/// <summary>A rule turned into ticks of the limiter's clock, with its counters.</summary>
internal sealed class RuleLimit
{
    public RuleLimit(RateLimitRule rule, TimeProvider time)
    {
        Rule = rule;
        Counters = new RateLimitRuleCounters(rule.Name);
        double frequency = time.TimestampFrequency;
        Interval = Math.Max(1, (long)Math.Round(frequency / rule.PermitsPerSecond));
        // Saturated far below long.MaxValue: fullAt + interval must never overflow.
        Capacity = (long)Math.Min(rule.Burst * (double)Interval, long.MaxValue / 4);
        MaxDelay = rule.Mode == RateLimitMode.Wait ? (long)(rule.MaxWait.TotalSeconds * frequency) : 0;
    }

    public RateLimitRule Rule { get; }

    public RateLimitRuleCounters Counters { get; }

    /// <summary>Ticks per permit.</summary>
    public long Interval { get; }

    /// <summary>Burst × interval.</summary>
    public long Capacity { get; }

    /// <summary>The longest wait in ticks: 0 in reject mode.</summary>
    public long MaxDelay { get; }

    public TokenBucket NewBucket() => new(Interval, Capacity);
}
