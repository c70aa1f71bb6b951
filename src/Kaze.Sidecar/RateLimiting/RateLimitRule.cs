namespace Kaze.Sidecar.RateLimiting;

/// <summary>What a rule does with a packet over its limit.</summary>
internal enum RateLimitMode
{
    /// <summary>Refuse at once: a request is answered RET_RESOURCE_EXHAUSTED, a notify is dropped.</summary>
    Reject = 0,

    /// <summary>Hold the packet until a permit is free, if that is within <see cref="RateLimitRule.MaxWait"/>; otherwise refuse as <see cref="Reject"/> does.</summary>
    Wait = 1,
}

/// <summary>One token bucket's settings, as configured (e.g. "rateLimits:total").</summary>
/// <remarks>
/// Defaults: <see cref="Burst"/> = one second's permits (at least 1); <see cref="Mode"/> =
/// reject; <see cref="MaxWait"/> = 100 ms in wait mode (0 in reject mode).
/// </remarks>
internal sealed record RateLimitRule
{
    /// <summary>The default of <see cref="MaxWait"/> in wait mode.</summary>
    public static readonly TimeSpan DefaultMaxWait = TimeSpan.FromMilliseconds(100);

    /// <summary>The rule's name in counters and logs: "total", "perSource", "perBodyType:echo", "perBodyType:*".</summary>
    public required string Name { get; init; }

    /// <summary>The sustained rate: permits added to the bucket per second.</summary>
    public required double PermitsPerSecond { get; init; }

    /// <summary>The bucket's size: how many packets may pass at once after a quiet spell.</summary>
    public required long Burst { get; init; }

    /// <summary>What happens over the limit.</summary>
    public RateLimitMode Mode { get; init; } = RateLimitMode.Reject;

    /// <summary>The longest a packet is held in wait mode; zero in reject mode.</summary>
    public TimeSpan MaxWait { get; init; }
}
