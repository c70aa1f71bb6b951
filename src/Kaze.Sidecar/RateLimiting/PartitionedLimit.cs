using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// A rule with one bucket per key (source ident, unlisted body type), made on first use and
/// kept in a concurrent dictionary: a known key costs one lookup and no allocation.
/// </summary>
/// <remarks>
/// Keys come from the network, so the number of buckets is bounded by maxPartitions. When a new
/// key finds the table full, buckets that are full again (idle: equal to a new bucket, so nothing
/// is lost) are removed, at most once a second; if the table is still full, the new key shares
/// one overflow bucket with every other key that did not fit.
/// </remarks>
internal sealed class PartitionedLimit<TKey>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TokenBucket> _buckets;
    private readonly int _maxPartitions;
    // Ticks between sweeps: an attacker cycling keys must not make every packet scan the table.
    private readonly long _sweepInterval;
    private readonly TokenBucket _overflow;
    // Buckets in _buckets; kept apart because ConcurrentDictionary.Count takes every lock.
    private int _count;
    // When the last sweep started (a timestamp); claimed by compare-and-swap so one thread sweeps.
    private long _lastSweep = long.MinValue / 2;

    public PartitionedLimit(RuleLimit limit, int maxPartitions, long ticksPerSecond, IEqualityComparer<TKey>? comparer = null)
    {
        Limit = limit;
        _maxPartitions = maxPartitions;
        _sweepInterval = ticksPerSecond;
        _buckets = new ConcurrentDictionary<TKey, TokenBucket>(comparer);
        _overflow = limit.NewBucket();
    }

    public RuleLimit Limit { get; }

    /// <summary>Buckets kept now (for tests and diagnostics).</summary>
    public int Count => Volatile.Read(ref _count);

    public TokenBucket Get(TKey key, long now) =>
        _buckets.TryGetValue(key, out TokenBucket? bucket) ? bucket : GetNew(key, now);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private TokenBucket GetNew(TKey key, long now)
    {
        if (Volatile.Read(ref _count) >= _maxPartitions)
        {
            Sweep(now);
            if (Volatile.Read(ref _count) >= _maxPartitions)
            {
                return _overflow;
            }
        }

        TokenBucket created = Limit.NewBucket();
        while (true)
        {
            if (_buckets.TryAdd(key, created))
            {
                Interlocked.Increment(ref _count);
                return created;
            }

            if (_buckets.TryGetValue(key, out TokenBucket? existing))
            {
                return existing;
            }
        }
    }

    private void Sweep(long now)
    {
        long last = Volatile.Read(ref _lastSweep);
        if (now - last < _sweepInterval || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }

        // A packet that fetched a bucket just before it is removed takes its permit from the
        // removed bucket: one permit given away, at most once per key and sweep.
        foreach (KeyValuePair<TKey, TokenBucket> entry in _buckets)
        {
            if (entry.Value.IsFull(now) && _buckets.TryRemove(entry))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }
}
