using Kaze.Protocol;
using Kaze.Resolver.Tests.Infrastructure;

namespace Kaze.Resolver.Tests;

public sealed class ChainResolverTests
{
    private static readonly Ident One = new(1);

    [Fact]
    public async Task ResolveAsync_SeveralKnowTheNode_FirstInOrderWinsAndLaterAreNotAsked()
    {
        FakeResolver first = new FakeResolver().With("0.0.0.2", "first:2");
        FakeResolver second = new FakeResolver().With("0.0.0.1", "second:1");
        FakeResolver third = new FakeResolver().With("0.0.0.1", "third:1");
        var chain = new ChainResolver(first, second, third);

        Assert.Equal(new NodeAddress("second", 1), await chain.ResolveAsync(One));

        Assert.Equal((1, 1, 0), (first.ResolveCalls, second.ResolveCalls, third.ResolveCalls));
    }

    [Fact]
    public async Task ResolveAsync_NobodyKnows_Null()
    {
        var chain = new ChainResolver(new FakeResolver(), new FakeResolver());

        Assert.Null(await chain.ResolveAsync(One));
    }

    [Fact]
    public async Task ResolveAsync_AsynchronousResolvers_KeepsTheOrder()
    {
        var slowNull = new FakeResolver { OnResolve = async _ => { await Task.Yield(); return null; } };
        var slowHit = new FakeResolver { OnResolve = async _ => { await Task.Yield(); return new NodeAddress("slow", 1); } };
        FakeResolver later = new FakeResolver().With("0.0.0.1", "later:1");
        var chain = new ChainResolver(slowNull, slowHit, later);

        Assert.Equal(new NodeAddress("slow", 1), await chain.ResolveAsync(One).AsTask().Within("the chained lookup", Deadline.Short));
        Assert.Equal(0, later.ResolveCalls);
    }

    [Fact]
    public async Task ResolveAsync_EarlierFailsLaterKnows_AnswersFromLater()
    {
        var failing = new FakeResolver { OnResolve = _ => throw new RegistryUnavailableException("down", []) };
        var faulted = new FakeResolver { OnResolve = _ => ValueTask.FromException<NodeAddress?>(new RegistryUnavailableException("down too", [])) };
        FakeResolver fallback = new FakeResolver().With("0.0.0.1", "fallback:1");
        var chain = new ChainResolver(failing, faulted, fallback);

        Assert.Equal(new NodeAddress("fallback", 1), await chain.ResolveAsync(One));
    }

    [Fact]
    public async Task ResolveAsync_OneFailsAndNobodyKnows_RethrowsThatFailure()
    {
        var failing = new FakeResolver { OnResolve = _ => throw new RegistryUnavailableException("etcd down", []) };
        var chain = new ChainResolver(new FakeResolver(), failing);

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => chain.ResolveAsync(One).AsTask());
        Assert.Equal("etcd down", exception.Message);
    }

    [Fact]
    public async Task ResolveAsync_SeveralFailAndNobodyKnows_ThrowsAggregateOfAll()
    {
        var a = new FakeResolver { OnResolve = _ => throw new RegistryUnavailableException("a down", []) };
        var b = new FakeResolver { OnResolve = _ => throw new RegistryUnavailableException("b down", []) };
        var chain = new ChainResolver(a, b);

        var exception = await Assert.ThrowsAsync<AggregateException>(() => chain.ResolveAsync(One).AsTask());
        Assert.Equal(["a down", "b down"], exception.InnerExceptions.Select(e => e.Message));
    }

    [Fact]
    public void ResolveAsync_SynchronousHit_AllocatesNothing()
    {
        var chain = new ChainResolver(new FakeResolver(), new FakeResolver().With("0.0.0.1", "b:1"));
        int found = 0;
        for (int i = 0; i < 100; i++)
        {
            found += chain.ResolveAsync(One).SyncResult() is null ? 0 : 1;
        }

        // The fakes themselves allocate nothing on these paths (dictionary lookups of a struct key).
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            found += chain.ResolveAsync(One).SyncResult() is null ? 0 : 1;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10_100, found);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task MatchAsync_Overlapping_OrderedUnionWithoutDuplicates()
    {
        var first = new FakeResolver { OnMatch = (_, _) => new ValueTask<IReadOnlyList<Ident>>([new Ident(3), new Ident(1)]) };
        var second = new FakeResolver { OnMatch = (_, _) => new ValueTask<IReadOnlyList<Ident>>([new Ident(2), new Ident(3), new Ident(4)]) };
        var third = new FakeResolver { OnMatch = (_, _) => new ValueTask<IReadOnlyList<Ident>>([new Ident(4), new Ident(1), new Ident(5)]) };
        var chain = new ChainResolver(first, second, third);

        IReadOnlyList<Ident> union = await chain.MatchAsync(Ident.Any, 0);

        Assert.Equal(new uint[] { 3, 1, 2, 4, 5 }, union.Select(i => i.Value));
    }

    [Fact]
    public async Task MatchAsync_OnlyOneHasMatches_ReturnsItsListAsIs()
    {
        IReadOnlyList<Ident> only = new List<Ident> { new(7), new(8) }.AsReadOnly();
        var chain = new ChainResolver(new FakeResolver(), new FakeResolver { OnMatch = (_, _) => new ValueTask<IReadOnlyList<Ident>>(only) });

        Assert.Same(only, await chain.MatchAsync(Ident.Any, 0));
    }

    [Fact]
    public async Task MatchAsync_OneFails_UnionOfTheOthers()
    {
        var failing = new FakeResolver { OnMatch = (_, _) => throw new RegistryUnavailableException("down", []) };
        FakeResolver working = new FakeResolver().With("0.0.0.1", "a:1");
        var chain = new ChainResolver(failing, working);

        Assert.Equal([One], await chain.MatchAsync(Ident.Any, 0));
    }

    [Fact]
    public async Task MatchAsync_FailsAndNobodyMatches_Throws()
    {
        var failing = new FakeResolver { OnMatch = (_, _) => throw new RegistryUnavailableException("down", []) };
        var chain = new ChainResolver(new FakeResolver(), failing);

        await Assert.ThrowsAsync<RegistryUnavailableException>(() => chain.MatchAsync(Ident.Any, 0).AsTask());
    }

    [Fact]
    public void Constructor_NoResolvers_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ChainResolver());
        Assert.Throws<ArgumentException>(() => new ChainResolver(new FakeResolver(), null!));
    }

    [Fact]
    public void ResolveName_OneResolverKnowsIt_ItsListAsIs_SeveralKnowIt_SortedUnion()
    {
        var first = new Kaze.Resolver.Static.StaticResolver(NodeTable.Create([NodeEntry.Parse("0.0.0.5=a:1/orders"), NodeEntry.Parse("0.0.0.1=a:2/billing")]));
        var second = new Kaze.Resolver.Static.StaticResolver(NodeTable.Create([NodeEntry.Parse("0.0.0.2=b:1/orders"), NodeEntry.Parse("0.0.0.5=b:2/orders")]));
        var chain = new ChainResolver(first, new FakeResolver(), second);

        Assert.Same(first.ResolveName("billing"), chain.ResolveName("billing"));
        Assert.Equal([new Ident(2), new Ident(5)], chain.ResolveName("orders"));
        Assert.Empty(chain.ResolveName("nobody"));
    }
}
