namespace Kaze.Sidecar.RateLimiting;

/// <summary>A rule with one bucket: total, or one listed body type.</summary>
internal sealed class SingleLimit(RuleLimit limit)
{
    public RuleLimit Limit { get; } = limit;

    public TokenBucket Bucket { get; } = limit.NewBucket();
}
