using System.Collections.Frozen;
using Kaze.Protocol;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>The verdict on one packet: pass now, pass after <see cref="Delay"/>, or refused by <see cref="RefusedBy"/>.</summary>
internal readonly record struct RateLimitDecision(RuleLimit? RefusedBy, long Delay, RuleLimit? DelayedBy)
{
    public static RateLimitDecision PassNow => default;
}

/// <summary>
/// Checks a packet against every configured rule: total, its source's bucket, its body type's
/// bucket. All or nothing: when one rule refuses, the permits already taken from the others
/// are given back, so a refused packet costs no rule anything.
/// </summary>
/// <remarks>
/// In wait mode a rule reserves the permit and says how long to wait; the packet waits for the
/// longest of its rules' waits. A request never waits longer than its own timeout: past that,
/// the sender has given up and the answer would only be a late RET_TIMEOUT, so it is refused at
/// once instead. No allocation on any path once the partitions exist.
/// </remarks>
internal sealed class PacketRateLimiter
{
    private readonly SingleLimit? _total;
    private readonly PartitionedLimit<uint>? _perSource;
    private readonly FrozenDictionary<string, SingleLimit> _bodyTypes;
    private readonly PartitionedLimit<string>? _otherBodyTypes;
    private readonly double _ticksPerMillisecond;

    public PacketRateLimiter(RateLimitOptions options, TimeProvider time)
    {
        Time = time;
        long ticksPerSecond = time.TimestampFrequency;
        _ticksPerMillisecond = ticksPerSecond / 1000.0;
        var rules = new List<RuleLimit>();
        if (options.Total is not null)
        {
            _total = new SingleLimit(Add(options.Total));
        }

        if (options.PerSource is not null)
        {
            _perSource = new PartitionedLimit<uint>(Add(options.PerSource), options.MaxPartitions, ticksPerSecond);
        }

        var bodyTypes = new Dictionary<string, SingleLimit>(StringComparer.Ordinal);
        foreach ((string bodyType, RateLimitRule rule) in options.PerBodyType)
        {
            bodyTypes[bodyType] = new SingleLimit(Add(rule));
        }

        _bodyTypes = bodyTypes.ToFrozenDictionary(StringComparer.Ordinal);
        if (options.OtherBodyTypes is not null)
        {
            _otherBodyTypes = new PartitionedLimit<string>(Add(options.OtherBodyTypes), options.MaxPartitions, ticksPerSecond, StringComparer.Ordinal);
        }

        Counters = new RateLimitCounters(rules.ConvertAll(r => r.Counters));

        RuleLimit Add(RateLimitRule rule)
        {
            var limit = new RuleLimit(rule, time);
            rules.Add(limit);
            return limit;
        }
    }

    public TimeProvider Time { get; }

    public RateLimitCounters Counters { get; }

    /// <summary>Buckets kept for perSource (for tests and diagnostics).</summary>
    internal int SourcePartitions => _perSource?.Count ?? 0;

    /// <summary>Buckets kept for "*" (for tests and diagnostics).</summary>
    internal int BodyTypePartitions => _otherBodyTypes?.Count ?? 0;

    public RateLimitDecision Check(Hdr header, long now)
    {
        long bound = header.ExpectsResponse ? (long)(header.Timeout * _ticksPerMillisecond) : long.MaxValue;
        long delay = 0;
        RuleLimit? delayedBy = null;

        TokenBucket? total = null;
        if (_total is not null)
        {
            if (!Take(_total.Limit, _total.Bucket, now, bound, ref delay, ref delayedBy))
            {
                return new RateLimitDecision(_total.Limit, 0, null);
            }

            total = _total.Bucket;
        }

        TokenBucket? source = null;
        if (_perSource is not null)
        {
            TokenBucket bucket = _perSource.Get(header.SrcIdent, now);
            if (!Take(_perSource.Limit, bucket, now, bound, ref delay, ref delayedBy))
            {
                total?.Return();
                return new RateLimitDecision(_perSource.Limit, 0, null);
            }

            source = bucket;
        }

        RuleLimit? typeLimit = null;
        TokenBucket? typeBucket = null;
        if (_bodyTypes.Count > 0 && _bodyTypes.TryGetValue(header.BodyType, out SingleLimit? listed))
        {
            typeLimit = listed.Limit;
            typeBucket = listed.Bucket;
        }
        else if (_otherBodyTypes is not null)
        {
            typeLimit = _otherBodyTypes.Limit;
            typeBucket = _otherBodyTypes.Get(header.BodyType, now);
        }

        if (typeBucket is not null && !Take(typeLimit!, typeBucket, now, bound, ref delay, ref delayedBy))
        {
            total?.Return();
            source?.Return();
            return new RateLimitDecision(typeLimit, 0, null);
        }

        return delay == 0 ? RateLimitDecision.PassNow : new RateLimitDecision(null, delay, delayedBy);
    }

    private static bool Take(RuleLimit limit, TokenBucket bucket, long now, long bound, ref long delay, ref RuleLimit? delayedBy)
    {
        long maxDelay = Math.Min(limit.MaxDelay, bound);
        if (!bucket.TryTake(now, maxDelay, out long wait))
        {
            return false;
        }

        if (wait > delay)
        {
            delay = wait;
            delayedBy = limit;
        }

        return true;
    }
}
