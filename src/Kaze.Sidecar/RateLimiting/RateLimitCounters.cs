namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// What the rate limits have done since start, per rule; read racily for metrics. Registered as
/// a service by <see cref="RateLimitPlugin"/> (empty when no rule is configured).
/// </summary>
/// <remarks>
/// A refused packet is counted once, under the first rule that refused it, with its reason:
/// <see cref="RateLimitRuleCounters.Answered"/> (a request answered RET_RESOURCE_EXHAUSTED) or
/// <see cref="RateLimitRuleCounters.Dropped"/> (a notify, or a request that expects no answer).
/// Partitioned rules (perSource, "*") count all their partitions together: an ident or a body
/// type is not a metric label.
/// </remarks>
public sealed class RateLimitCounters
{
    internal RateLimitCounters(IReadOnlyList<RateLimitRuleCounters> rules) => Rules = rules;

    /// <summary>One entry per configured rule, in configuration order: total, perSource, perBodyType entries, "*".</summary>
    public IReadOnlyList<RateLimitRuleCounters> Rules { get; }

    /// <summary>Packets refused by any rule (answered or dropped).</summary>
    public long Refused
    {
        get
        {
            long sum = 0;
            foreach (RateLimitRuleCounters rule in Rules)
            {
                sum += rule.Answered + rule.Dropped;
            }

            return sum;
        }
    }

    /// <summary>The counters of the rule named <paramref name="rule"/>, or null.</summary>
    /// <param name="rule">"total", "perSource", "perBodyType:&lt;body type&gt;" or "perBodyType:*".</param>
    /// <returns>The rule's counters, or null when no such rule is configured.</returns>
    public RateLimitRuleCounters? this[string rule]
    {
        get
        {
            foreach (RateLimitRuleCounters counters in Rules)
            {
                if (counters.Rule == rule)
                {
                    return counters;
                }
            }

            return null;
        }
    }
}

/// <summary>One rule's counters.</summary>
public sealed class RateLimitRuleCounters
{
    internal long AnsweredCount;
    internal long DroppedCount;
    internal long DelayedCount;

    internal RateLimitRuleCounters(string rule) => Rule = rule;

    /// <summary>The rule: "total", "perSource", "perBodyType:&lt;body type&gt;" or "perBodyType:*".</summary>
    public string Rule { get; }

    /// <summary>Requests refused and answered RET_RESOURCE_EXHAUSTED (reason "answered").</summary>
    public long Answered => Volatile.Read(ref AnsweredCount);

    /// <summary>Notifies, and requests that expect no answer, refused and dropped (reason "dropped").</summary>
    public long Dropped => Volatile.Read(ref DroppedCount);

    /// <summary>Packets held by this rule in wait mode and then let through (not refusals).</summary>
    public long Delayed => Volatile.Read(ref DelayedCount);
}
