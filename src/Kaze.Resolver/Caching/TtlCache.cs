using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Caching;

/// <summary>
/// Answers with time-to-live, one loader call per key at a time (single flight), and stale answers
/// while the loader fails. The engine of <see cref="CachingResolver"/>, once for lookups and once for matches.
/// </summary>
/// <remarks>
/// An entry is fresh until <c>FreshUntil</c>, then usable as a stale answer until <c>StaleUntil</c>
/// if the loader fails. After such a failure the entry is served without asking again until
/// <c>RetryAfter</c>. All times are <see cref="TimeProvider.GetTimestamp"/> ticks.
/// </remarks>
internal sealed class TtlCache<TKey, TValue>
    where TKey : notnull
{
    // Key → the latest answer; an Entry is replaced whole on a successful load, only RetryAfter changes in place.
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();

    // Key → the load under way (single flight); removed by the load itself when it ends.
    private readonly ConcurrentDictionary<TKey, Task<TValue>> _loads = new();

    // Key → when its last failure was logged (timestamp); bounded like _entries.
    private readonly ConcurrentDictionary<TKey, long> _failuresLogged = new();

    private readonly Func<TKey, CancellationToken, ValueTask<TValue>> _load;
    private readonly Func<TValue, bool> _isNegative;
    private readonly Func<TKey, string> _describe;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CachingResolverOptions _options;
    private readonly long _ttl;
    private readonly long _negativeTtl;
    private readonly long _maxStaleness;
    private readonly long _retryInterval;
    private readonly long _logInterval;

    // Keys in _entries, kept by hand: ConcurrentDictionary.Count takes every lock.
    private int _count;

    // 1 while a trim runs; one trim at a time is enough.
    private int _trimming;

    public TtlCache(
        Func<TKey, CancellationToken, ValueTask<TValue>> load,
        Func<TValue, bool> isNegative,
        Func<TKey, string> describe,
        CachingResolverOptions options,
        TimeProvider time,
        ILogger logger)
    {
        _load = load;
        _isNegative = isNegative;
        _describe = describe;
        _options = options;
        _time = time;
        _logger = logger;
        _ttl = Ticks(options.Ttl);
        _negativeTtl = Ticks(options.NegativeTtl);
        _maxStaleness = Ticks(options.MaxStaleness);
        _retryInterval = Ticks(options.FailureRetryInterval);
        _logInterval = Ticks(options.FailureLogInterval);
    }

    /// <summary>How many keys are remembered.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The cached answer if it may be served now, otherwise the answer of one shared load.</summary>
    public ValueTask<TValue> GetAsync(TKey key, CancellationToken cancellationToken)
    {
        if (_entries.TryGetValue(key, out Entry? entry))
        {
            long now = _time.GetTimestamp();
            if (now < entry.FreshUntil || (now < Volatile.Read(ref entry.RetryAfter) && now < entry.StaleUntil))
            {
                return new ValueTask<TValue>(entry.Value);
            }
        }

        return new ValueTask<TValue>(JoinLoad(key, cancellationToken));
    }

    private Task<TValue> JoinLoad(TKey key, CancellationToken cancellationToken)
    {
        Task<TValue> load = GetOrStartLoad(key);

        // The load is shared: a caller that gives up stops waiting, the load goes on for the others
        // and for the cache.
        return cancellationToken.CanBeCanceled && !load.IsCompleted ? load.WaitAsync(cancellationToken) : load;
    }

    private Task<TValue> GetOrStartLoad(TKey key)
    {
        while (true)
        {
            if (_loads.TryGetValue(key, out Task<TValue>? running))
            {
                return running;
            }

            var completion = new TaskCompletionSource<TValue>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_loads.TryAdd(key, completion.Task))
            {
                _ = RunLoadAsync(key, completion);
                return completion.Task;
            }
        }
    }

    private async Task RunLoadAsync(TKey key, TaskCompletionSource<TValue> completion)
    {
        try
        {
            // Not the caller's token: the load is shared, and its own timeouts are the inner resolver's.
            TValue value = await _load(key, CancellationToken.None).ConfigureAwait(false);
            Store(key, value);
            completion.TrySetResult(value);
        }
        catch (Exception exception)
        {
            if (TryAnswerStale(key, exception, out TValue? stale))
            {
                completion.TrySetResult(stale);
            }
            else
            {
                completion.TrySetException(exception);
            }
        }
        finally
        {
            // After the entry is stored: a caller that no longer finds this load finds the entry.
            _loads.TryRemove(new KeyValuePair<TKey, Task<TValue>>(key, completion.Task));
        }
    }

    private void Store(TKey key, TValue value)
    {
        long now = _time.GetTimestamp();
        long ttl = _isNegative(value) ? _negativeTtl : _ttl;
        if (ttl == 0)
        {
            // Negative caching is off: forget what was known, so it is not served stale either.
            if (_entries.TryRemove(key, out _))
            {
                Interlocked.Decrement(ref _count);
            }

            return;
        }

        var entry = new Entry(value, now + ttl, now + ttl + _maxStaleness);
        while (true)
        {
            if (_entries.TryGetValue(key, out Entry? old))
            {
                if (_entries.TryUpdate(key, entry, old))
                {
                    return;
                }
            }
            else if (_entries.TryAdd(key, entry))
            {
                if (Interlocked.Increment(ref _count) > _options.MaxEntries)
                {
                    Trim(now);
                }

                return;
            }
        }
    }

    private bool TryAnswerStale(TKey key, Exception exception, out TValue value)
    {
        long now = _time.GetTimestamp();
        bool report = ShouldReport(key, now);
        if (_entries.TryGetValue(key, out Entry? entry) && now < entry.StaleUntil)
        {
            Volatile.Write(ref entry.RetryAfter, now + _retryInterval);
            if (report)
            {
                TimeSpan staleFor = _time.GetElapsedTime(entry.FreshUntil, now);
                CachingLog.ServingStale(_logger, exception, _describe(key), staleFor, _options.MaxStaleness, _options.FailureLogInterval);
            }

            value = entry.Value;
            return true;
        }

        if (report)
        {
            CachingLog.LookupFailed(_logger, exception, _describe(key), _options.FailureLogInterval);
        }

        value = default!;
        return false;
    }

    /// <summary>True for the first failure of <paramref name="key"/> in each log interval.</summary>
    private bool ShouldReport(TKey key, long now)
    {
        while (true)
        {
            if (!_failuresLogged.TryGetValue(key, out long last))
            {
                if (_failuresLogged.TryAdd(key, now))
                {
                    if (_failuresLogged.Count > _options.MaxEntries)
                    {
                        // Failure path only (Count takes every lock). Forgetting logs sooner, never later.
                        _failuresLogged.Clear();
                    }

                    return true;
                }

                continue;
            }

            if (now - last < _logInterval)
            {
                return false;
            }

            if (_failuresLogged.TryUpdate(key, now, last))
            {
                return true;
            }
        }
    }

    private void Trim(long now)
    {
        if (Interlocked.Exchange(ref _trimming, 1) != 0)
        {
            return;
        }

        try
        {
            int before = Count;
            int target = Math.Max(1, _options.MaxEntries - (_options.MaxEntries / 10));
            RemoveWhere(entry => now >= entry.StaleUntil, target);
            RemoveWhere(entry => now >= entry.FreshUntil, target);
            RemoveWhere(static _ => true, target);
            CachingLog.Trimmed(_logger, before, _options.MaxEntries, before - Count);
        }
        finally
        {
            Volatile.Write(ref _trimming, 0);
        }
    }

    private void RemoveWhere(Func<Entry, bool> condition, int target)
    {
        foreach (KeyValuePair<TKey, Entry> pair in _entries)
        {
            if (Count <= target)
            {
                return;
            }

            if (condition(pair.Value) && _entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    // Clamped far below long.MaxValue: a timestamp plus a TTL plus the staleness must not overflow.
    private long Ticks(TimeSpan span) =>
        span == TimeSpan.Zero ? 0 : (long)Math.Clamp(span.TotalSeconds * _time.TimestampFrequency, 1, long.MaxValue / 8);

    private sealed class Entry(TValue value, long freshUntil, long staleUntil)
    {
        public readonly TValue Value = value;
        public readonly long FreshUntil = freshUntil;
        public readonly long StaleUntil = staleUntil;

        // Until when a stale Value is served without a new load, after a failed one; written by that load.
        public long RetryAfter;
    }
}
