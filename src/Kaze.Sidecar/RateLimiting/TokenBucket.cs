namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// A token bucket kept as one number: the time at which it will be full again (the "theoretical
/// arrival time" of GCRA). Taking a permit moves that time one interval forward; the bucket is
/// over its limit when the time runs more than its capacity ahead of now.
/// </summary>
/// <remarks>
/// <code>
///   now            fullAt                     tokens left = (capacity − (fullAt − now)) / interval
///    │◀── debt ──────▶│
///    │◀──────── capacity = burst × interval ────────▶│
/// </code>
/// One word means one compare-and-swap per permit, no lock, no timer, and no allocation. A
/// bucket whose fullAt is not after now is exactly a new, full bucket, so idle partitions can
/// be removed without losing anything. Waiting is a reservation: a permit that is free only
/// in <c>delay</c> ticks is taken now (fullAt moves on) and the caller waits; each later
/// reservation is due later, so held packets leave at the bucket's rate in the order they came.
/// Times are <see cref="TimeProvider.GetTimestamp"/> values of the limiter's time provider.
/// </remarks>
internal sealed class TokenBucket
{
    // Ticks per permit (1 / rate); at least 1.
    private readonly long _interval;

    // How far fullAt may run ahead of now after a take: burst × interval.
    private readonly long _capacity;

    // When the bucket is full again; only moved by Interlocked (take, return). 0 = full from the start.
    private long _fullAt;

    public TokenBucket(long interval, long capacity)
    {
        _interval = interval;
        _capacity = capacity;
    }

    /// <summary>
    /// Takes one permit at <paramref name="now"/> if it is free within <paramref name="maxDelay"/>
    /// ticks. <paramref name="delay"/> is how long the caller must wait before using it (0: at
    /// once), or, when refused, how long it would have had to.
    /// </summary>
    public bool TryTake(long now, long maxDelay, out long delay)
    {
        while (true)
        {
            long fullAt = Volatile.Read(ref _fullAt);
            long next = Math.Max(fullAt, now) + _interval;
            long wait = next - now - _capacity;
            if (wait > maxDelay)
            {
                delay = wait;
                return false;
            }

            if (Interlocked.CompareExchange(ref _fullAt, next, fullAt) == fullAt)
            {
                delay = wait > 0 ? wait : 0;
                return true;
            }
        }
    }

    /// <summary>Gives back a permit taken by <see cref="TryTake"/> (another rule refused the packet).</summary>
    public void Return() => Interlocked.Add(ref _fullAt, -_interval);

    /// <summary>Whether the bucket is full at <paramref name="now"/>, i.e. indistinguishable from a new one.</summary>
    public bool IsFull(long now) => Volatile.Read(ref _fullAt) <= now;
}
