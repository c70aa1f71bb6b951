using Kaze.Protocol;
using Kaze.Resolver.Caching;
using Kaze.Resolver.Tests.Infrastructure;

namespace Kaze.Resolver.Tests.Caching;

public sealed class CachingResolverTests
{
    private static readonly Ident One = new(1);
    private static readonly NodeAddress AddressOne = new("10.0.0.1", 6081);

    private readonly ManualTimeProvider _clock = new();
    private readonly ListLogger<CachingResolver> _log = new();

    private static CachingResolverOptions Options() => new()
    {
        Ttl = TimeSpan.FromSeconds(30),
        NegativeTtl = TimeSpan.FromSeconds(5),
        MaxStaleness = TimeSpan.FromMinutes(5),
        FailureRetryInterval = TimeSpan.FromSeconds(2),
        FailureLogInterval = TimeSpan.FromMinutes(1),
    };

    private CachingResolver Create(IResolver inner, CachingResolverOptions? options = null) =>
        new(inner, options ?? Options(), _log, _clock);

    [Fact]
    public async Task ResolveAsync_WithinTtl_AsksInnerOnce()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);

        Assert.Equal(AddressOne, await cache.ResolveAsync(One));
        _clock.Advance(TimeSpan.FromSeconds(29.9));
        ValueTask<NodeAddress?> second = cache.ResolveAsync(One);

        Assert.True(second.IsCompletedSuccessfully, "a fresh hit completes synchronously");
        Assert.Equal(AddressOne, second.SyncResult());
        Assert.Equal(1, inner.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_AfterTtl_AsksInnerAgainAndSeesTheChange()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);
        await cache.ResolveAsync(One);

        inner.With("0.0.0.1", "10.0.0.99:6081");
        _clock.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(new NodeAddress("10.0.0.99", 6081), await cache.ResolveAsync(One));
        Assert.Equal(2, inner.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_UnknownNode_CachedForTheShorterNegativeTtl()
    {
        var inner = new FakeResolver();
        CachingResolver cache = Create(inner);

        Assert.Null(await cache.ResolveAsync(One));
        _clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Null(await cache.ResolveAsync(One));
        Assert.Equal(1, inner.ResolveCalls);

        inner.With("0.0.0.1", "10.0.0.1:6081");
        _clock.Advance(TimeSpan.FromSeconds(0.1));

        Assert.Equal(AddressOne, await cache.ResolveAsync(One));
        Assert.Equal(2, inner.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_NegativeTtlZero_DoesNotRememberUnknownNodes()
    {
        var inner = new FakeResolver();
        CachingResolverOptions options = Options();
        options.NegativeTtl = TimeSpan.Zero;
        CachingResolver cache = Create(inner, options);

        await cache.ResolveAsync(One);
        await cache.ResolveAsync(One);

        Assert.Equal(2, inner.ResolveCalls);
        Assert.Equal(0, cache.CachedAddressCount);
    }

    [Fact]
    public async Task ResolveAsync_FreshHit_AllocatesNothing()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);
        await cache.ResolveAsync(One);
        int found = 0;
        for (int i = 0; i < 100; i++)
        {
            found += cache.ResolveAsync(One).SyncResult() is null ? 0 : 1;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            found += cache.ResolveAsync(One).SyncResult() is null ? 0 : 1;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10_100, found);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task ResolveAsync_ConcurrentMisses_MakeOneInnerCall()
    {
        const int Callers = 32;
        var gate = new TaskCompletionSource<NodeAddress?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var inner = new FakeResolver { OnResolve = _ => new ValueTask<NodeAddress?>(gate.Task) };
        CachingResolver cache = Create(inner);
        using var allAsked = new CountdownEvent(Callers);
        using var start = new Barrier(Callers);

        // Every caller has its lookup in hand (pending: the gate is closed) before the inner call may end.
        Task<Task<NodeAddress?>>[] callers = Enumerable.Range(0, Callers).Select(_ => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait(Deadline.Short);
                Task<NodeAddress?> lookup = cache.ResolveAsync(One).AsTask();
                allAsked.Signal();
                return lookup;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
        Assert.True(allAsked.Wait(Deadline.Short), $"Timed out waiting for all {Callers} callers to start their lookup.");

        Assert.Equal(1, inner.ResolveCalls);
        gate.SetResult(AddressOne);
        Task<NodeAddress?>[] lookups = await Task.WhenAll(callers).Within("the caller threads", Deadline.Short);
        NodeAddress?[] results = await Task.WhenAll(lookups).Within("every lookup to complete after the inner call ended", Deadline.Short);

        Assert.All(results, r => Assert.Equal(AddressOne, r));
        Assert.Equal(1, inner.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_CallerCancelsWhileShared_OthersStillGetTheAnswer()
    {
        var gate = new TaskCompletionSource<NodeAddress?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var inner = new FakeResolver { OnResolve = _ => new ValueTask<NodeAddress?>(gate.Task) };
        CachingResolver cache = Create(inner);
        using var cancel = new CancellationTokenSource();

        Task<NodeAddress?> impatient = cache.ResolveAsync(One, cancel.Token).AsTask();
        Task<NodeAddress?> patient = cache.ResolveAsync(One).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient.Within("the cancelled lookup", Deadline.Short));
        gate.SetResult(AddressOne);

        Assert.Equal(AddressOne, await patient.Within("the lookup that was not cancelled", Deadline.Short));
        Assert.Equal(AddressOne, cache.ResolveAsync(One).SyncResult());
        Assert.Equal(1, inner.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_InnerFailsAfterExpiry_ServesStaleAndLogsOncePerPeriod()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);
        await cache.ResolveAsync(One);
        inner.OnResolve = _ => ValueTask.FromException<NodeAddress?>(new RegistryUnavailableException("etcd is down", []));

        // Expired: the inner call fails, the old answer is served and the failure logged.
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(AddressOne, await cache.ResolveAsync(One));
        Assert.Equal(2, inner.ResolveCalls);
        Assert.Equal(1, _log.Count(500));

        // Within the retry interval: served stale without asking.
        _clock.Advance(TimeSpan.FromSeconds(1.9));
        ValueTask<NodeAddress?> quiet = cache.ResolveAsync(One);
        Assert.True(quiet.IsCompletedSuccessfully);
        Assert.Equal(AddressOne, quiet.SyncResult());
        Assert.Equal(2, inner.ResolveCalls);

        // After it: asked again, fails again, not logged again within the log interval.
        _clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(AddressOne, await cache.ResolveAsync(One));
        Assert.Equal(3, inner.ResolveCalls);
        Assert.Equal(1, _log.Count(500));

        // A new log interval: logged again.
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(AddressOne, await cache.ResolveAsync(One));
        Assert.Equal(2, _log.Count(500));
        Assert.Contains("etcd is down", _log.Entries.Last().Exception?.Message);
    }

    [Fact]
    public async Task ResolveAsync_InnerFailsBeyondMaxStaleness_Throws()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);
        await cache.ResolveAsync(One);
        inner.OnResolve = _ => throw new RegistryUnavailableException("etcd is down", []);

        _clock.Advance(TimeSpan.FromSeconds(30) + TimeSpan.FromMinutes(5));

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => cache.ResolveAsync(One).AsTask());
        Assert.Equal("etcd is down", exception.Message);
        Assert.Equal(1, _log.Count(501));
    }

    [Fact]
    public async Task ResolveAsync_InnerFailsWithNothingCached_ThrowsToEveryWaiterAndLogsOnce()
    {
        var gate = new TaskCompletionSource<NodeAddress?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var inner = new FakeResolver { OnResolve = _ => new ValueTask<NodeAddress?>(gate.Task) };
        CachingResolver cache = Create(inner);

        Task<NodeAddress?> first = cache.ResolveAsync(One).AsTask();
        Task<NodeAddress?> second = cache.ResolveAsync(One).AsTask();
        gate.SetException(new RegistryUnavailableException("etcd is down", []));

        await Assert.ThrowsAsync<RegistryUnavailableException>(() => first.Within("the first lookup", Deadline.Short));
        await Assert.ThrowsAsync<RegistryUnavailableException>(() => second.Within("the second lookup", Deadline.Short));
        Assert.Equal(1, inner.ResolveCalls);
        Assert.Equal(1, _log.Count(501));
    }

    [Fact]
    public async Task ResolveAsync_InnerRecovers_FreshAnswerReplacesStale()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "10.0.0.1:6081");
        CachingResolver cache = Create(inner);
        await cache.ResolveAsync(One);
        Func<Ident, ValueTask<NodeAddress?>> working = inner.OnResolve;
        inner.OnResolve = _ => throw new RegistryUnavailableException("etcd is down", []);
        _clock.Advance(TimeSpan.FromSeconds(31));
        await cache.ResolveAsync(One);

        inner.OnResolve = working;
        inner.With("0.0.0.1", "10.0.0.2:6081");
        _clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(new NodeAddress("10.0.0.2", 6081), await cache.ResolveAsync(One));
        _clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(new NodeAddress("10.0.0.2", 6081), cache.ResolveAsync(One).SyncResult());
    }

    [Fact]
    public async Task MatchAsync_WithinTtl_AsksInnerOncePerSelector()
    {
        FakeResolver inner = new FakeResolver().With("0.0.0.1", "a:1").With("0.0.0.2", "a:2").With("0.0.1.1", "a:3");
        CachingResolver cache = Create(inner);

        Assert.Equal(3, (await cache.MatchAsync(Ident.Any, 0)).Count);
        Assert.Equal(2, (await cache.MatchAsync(Ident.Any, 0xFFFFFF00)).Count);
        Assert.Equal(3, (await cache.MatchAsync(Ident.Any, 0)).Count);
        Assert.Equal(2, inner.MatchCalls);

        _clock.Advance(TimeSpan.FromSeconds(30));
        await cache.MatchAsync(Ident.Any, 0);
        Assert.Equal(3, inner.MatchCalls);
    }

    [Fact]
    public async Task MatchAsync_EmptyResult_CachedForTheNegativeTtl()
    {
        var inner = new FakeResolver();
        CachingResolver cache = Create(inner);

        Assert.Empty(await cache.MatchAsync(new Ident(0x0A000000), 0xFF000000));
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Empty(await cache.MatchAsync(new Ident(0x0A000000), 0xFF000000));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(await cache.MatchAsync(new Ident(0x0A000000), 0xFF000000));

        Assert.Equal(2, inner.MatchCalls);
    }

    [Fact]
    public async Task MatchAsync_UnsatisfiableSelector_EmptyWithoutAskingInner()
    {
        var inner = new FakeResolver();
        CachingResolver cache = Create(inner);

        Assert.Empty(await cache.MatchAsync(new Ident(1), 0xFFFFFF00));

        Assert.Equal(0, inner.MatchCalls);
    }

    [Fact]
    public async Task ResolveAsync_MoreKeysThanMaxEntries_StaysBounded()
    {
        FakeResolver inner = new FakeResolver();
        CachingResolverOptions options = Options();
        options.MaxEntries = 100;
        CachingResolver cache = Create(inner, options);

        for (uint i = 1; i <= 1000; i++)
        {
            await cache.ResolveAsync(new Ident(i));
        }

        Assert.InRange(cache.CachedAddressCount, 1, 100);
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var options = new CachingResolverOptions
        {
            Ttl = TimeSpan.Zero,
            NegativeTtl = TimeSpan.FromSeconds(-1),
            MaxStaleness = TimeSpan.FromSeconds(-1),
            FailureRetryInterval = TimeSpan.Zero,
            FailureLogInterval = TimeSpan.FromSeconds(-1),
            MaxEntries = 0,
        };

        var exception = Assert.Throws<ArgumentException>(() => new CachingResolver(new FakeResolver(), options));

        Assert.Equal(6, options.Validate().Count);
        foreach (string name in new[] { "Ttl", "NegativeTtl", "MaxStaleness", "FailureRetryInterval", "FailureLogInterval", "MaxEntries" })
        {
            Assert.Contains(name + " is", exception.Message);
        }
    }

    [Fact]
    public void Validate_NegativeTtlLongerThanTtl_IsAProblem()
    {
        var options = new CachingResolverOptions { Ttl = TimeSpan.FromSeconds(5), NegativeTtl = TimeSpan.FromSeconds(10) };

        Assert.Contains(options.Validate(), e => e.StartsWith("NegativeTtl", StringComparison.Ordinal));
        Assert.Empty(new CachingResolverOptions().Validate());
    }
}
