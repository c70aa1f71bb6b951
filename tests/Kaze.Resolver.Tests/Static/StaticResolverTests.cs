using Kaze.Protocol;
using Kaze.Resolver.Static;
using Kaze.Resolver.Tests.Infrastructure;

namespace Kaze.Resolver.Tests.Static;

public sealed class StaticResolverTests
{
    private static StaticResolver Create(params string[] nodes) =>
        new(NodeTable.Create(nodes.Select(n => NodeEntry.Parse(n))));

    [Fact]
    public void ResolveAsync_KnownIdent_CompletesSynchronouslyWithAddress()
    {
        StaticResolver resolver = Create("0.0.0.1=127.0.0.1:6081", "0.0.0.2=127.0.0.1:6082");

        ValueTask<NodeAddress?> lookup = resolver.ResolveAsync(new Ident(2));

        Assert.True(lookup.IsCompletedSuccessfully);
        Assert.Equal(new NodeAddress("127.0.0.1", 6082), lookup.SyncResult());
    }

    [Fact]
    public void ResolveAsync_UnknownIdent_CompletesSynchronouslyWithNull()
    {
        StaticResolver resolver = Create("0.0.0.1=127.0.0.1:6081");

        ValueTask<NodeAddress?> lookup = resolver.ResolveAsync(new Ident(7));

        Assert.True(lookup.IsCompletedSuccessfully);
        Assert.Null(lookup.SyncResult());
    }

    [Fact]
    public void ResolveAsync_HitAfterWarmUp_AllocatesNothing()
    {
        StaticResolver resolver = Create("0.0.0.1=127.0.0.1:6081", "0.0.0.2=127.0.0.1:6082");
        var ident = new Ident(2);
        int found = 0;
        for (int i = 0; i < 100; i++)
        {
            // Warm up: JIT tiers, static constructors.
            found += resolver.ResolveAsync(ident).SyncResult() is null ? 0 : 1;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            ValueTask<NodeAddress?> lookup = resolver.ResolveAsync(ident);
            found += lookup.SyncResult() is null ? 0 : 1;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10_100, found);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void MatchAsync_CachedSelector_AllocatesNothing()
    {
        StaticResolver resolver = Create("0.0.0.1=a:1", "0.0.0.2=a:2");
        int count = 0;
        for (int i = 0; i < 100; i++)
        {
            count += resolver.MatchAsync(Ident.Any, 0).SyncResult().Count;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            count += resolver.MatchAsync(Ident.Any, 0).SyncResult().Count;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(20_200, count);
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData("0.0.0.0", 0u, new[] { "0.0.0.1", "0.0.0.2", "0.0.1.1", "1.0.0.1" })]
    [InlineData("0.0.0.0", 0xFFFF0000u, new[] { "0.0.0.1", "0.0.0.2", "0.0.1.1" })]
    [InlineData("0.0.1.0", 0xFFFFFF00u, new[] { "0.0.1.1" })]
    [InlineData("0.0.0.1", 0x000000FFu, new[] { "0.0.0.1", "0.0.1.1", "1.0.0.1" })]
    [InlineData("0.0.0.2", 0xFFFFFFFFu, new[] { "0.0.0.2" })]
    [InlineData("0.0.0.9", 0xFFFFFFFFu, new string[0])]
    [InlineData("0.0.0.1", 0xFFFFFF00u, new string[0])] // a bit outside the mask: nothing can match
    public void MatchAsync_Selector_GivesMatchingIdentsAscending(string ident, uint mask, string[] expected)
    {
        StaticResolver resolver = Create("1.0.0.1=d:1", "0.0.1.1=c:1", "0.0.0.2=b:1", "0.0.0.1=a:1");

        ValueTask<IReadOnlyList<Ident>> match = resolver.MatchAsync(Ident.Parse(ident), mask);

        Assert.True(match.IsCompletedSuccessfully);
        Assert.Equal(expected, match.SyncResult().Select(i => i.ToString()));
    }

    [Fact]
    public void MatchAsync_SameSelectorTwice_ReturnsTheCachedReadOnlyList()
    {
        StaticResolver resolver = Create("0.0.0.1=a:1", "0.0.0.2=a:2");

        IReadOnlyList<Ident> first = resolver.MatchAsync(Ident.Any, 0).SyncResult();
        IReadOnlyList<Ident> second = resolver.MatchAsync(Ident.Any, 0).SyncResult();

        Assert.Same(first, second);
        Assert.False(first is Ident[] || first is List<Ident>, "a cached result must not be mutable by a caller");
    }

    [Fact]
    public void MatchAsync_MoreSelectorsThanTheCacheHolds_StillAnswersCorrectly()
    {
        StaticResolver resolver = Create("0.0.0.1=a:1");

        for (uint mask = 0; mask < NodeTable.MaxCachedMatches + 10; mask++)
        {
            IReadOnlyList<Ident> match = resolver.MatchAsync(Ident.Any, mask << 8).SyncResult();
            Assert.Equal([new Ident(1)], match);
        }
    }

    [Fact]
    public void Replace_NewTable_LaterLookupsSeeOnlyTheNewTable()
    {
        StaticResolver resolver = Create("0.0.0.1=old:1", "0.0.0.2=gone:2");
        IReadOnlyList<Ident> before = resolver.MatchAsync(Ident.Any, 0).SyncResult();

        NodeTable replaced = resolver.Replace(NodeTable.Create([NodeEntry.Parse("0.0.0.1=new:1"), NodeEntry.Parse("0.0.0.3=added:3")]));

        Assert.Equal(2, replaced.Count);
        Assert.Equal(new NodeAddress("new", 1), resolver.ResolveAsync(new Ident(1)).SyncResult());
        Assert.Null(resolver.ResolveAsync(new Ident(2)).SyncResult());
        Assert.Equal(new NodeAddress("added", 3), resolver.ResolveAsync(new Ident(3)).SyncResult());
        Assert.Equal([new Ident(1), new Ident(2)], before);
        Assert.Equal([new Ident(1), new Ident(3)], resolver.MatchAsync(Ident.Any, 0).SyncResult());
    }

    [Fact]
    public async Task Replace_WhileReadersRun_EveryAnswerComesFromOneWholeTable()
    {
        // Each call reads one snapshot: a match is all of A's idents or all of B's, never a mix.
        NodeTable a = NodeTable.Create([NodeEntry.Parse("0.0.0.1=a:1"), NodeEntry.Parse("0.0.0.2=a:2")]);
        NodeTable b = NodeTable.Create([NodeEntry.Parse("0.0.0.1=b:1"), NodeEntry.Parse("0.0.0.3=b:3")]);
        var resolver = new StaticResolver(a);
        using var stop = new CancellationTokenSource();
        Task reader = Task.Run(() =>
        {
            int reads = 0;
            while (!stop.IsCancellationRequested || reads < 1000)
            {
                IReadOnlyList<Ident> match = resolver.MatchAsync(Ident.Any, 0).SyncResult();
                Assert.True(match.SequenceEqual([new Ident(1), new Ident(2)]) || match.SequenceEqual([new Ident(1), new Ident(3)]), string.Join(",", match));
                NodeAddress? one = resolver.ResolveAsync(new Ident(1)).SyncResult();
                Assert.True(one?.Host is "a" or "b");
                reads++;
            }
        });

        for (int i = 0; i < 10_000; i++)
        {
            resolver.Replace(i % 2 == 0 ? b : a);
        }

        await stop.CancelAsync();
        await reader.Within("the reader thread to finish its checks", Deadline.Short);
    }
}
