using Kaze.Protocol;

namespace Kaze.Resolver.Tests;

public sealed class NodeTableTests
{
    [Fact]
    public void TryCreate_DistinctIdents_KnowsEveryNodeInAscendingOrder()
    {
        Assert.True(NodeTable.TryCreate(
            [NodeEntry.Parse("0.0.0.2=b:2"), NodeEntry.Parse("0.0.0.1=a:1"), NodeEntry.Parse("0.0.1.0=c:3")],
            out NodeTable? table,
            out IReadOnlyList<string> errors));

        Assert.Empty(errors);
        Assert.Equal(3, table.Count);
        Assert.Equal(["0.0.0.1=a:1", "0.0.0.2=b:2", "0.0.1.0=c:3"], table.Entries.Select(e => e.ToString()));
        Assert.True(table.TryGetAddress(new Ident(2), out NodeAddress address));
        Assert.Equal(new NodeAddress("b", 2), address);
        Assert.False(table.TryGetAddress(new Ident(3), out _));
    }

    [Fact]
    public void TryCreate_SameIdentSameAddressTwice_IsOneNode()
    {
        Assert.True(NodeTable.TryCreate(
            [NodeEntry.Parse("0.0.0.1=a:1", "kaze.json"), NodeEntry.Parse("0.0.0.1=a:1", "--node")],
            out NodeTable? table,
            out _));

        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void TryCreate_SameIdentDifferentAddresses_ErrorListsBothWithSources()
    {
        Assert.False(NodeTable.TryCreate(
            [NodeEntry.Parse("0.0.0.1=10.0.0.1:6081", "kaze.json"), NodeEntry.Parse("0.0.0.1=10.0.0.2:6081", "--node")],
            out NodeTable? table,
            out IReadOnlyList<string> errors));

        Assert.Null(table);
        string error = Assert.Single(errors);
        Assert.Contains("0.0.0.1", error);
        Assert.Contains("10.0.0.1:6081 (from kaze.json)", error);
        Assert.Contains("10.0.0.2:6081 (from --node)", error);
    }

    [Fact]
    public void TryCreate_SeveralProblems_ReportsEveryOne()
    {
        Assert.False(NodeTable.TryCreate(
            [
                NodeEntry.Parse("0.0.0.1=a:1"), NodeEntry.Parse("0.0.0.1=b:1"),
                NodeEntry.Parse("0.0.0.2=a:2"), NodeEntry.Parse("0.0.0.2=b:2"), NodeEntry.Parse("0.0.0.2=c:2"),
                NodeEntry.Parse("0.0.0.0=z:1"),
                NodeEntry.Parse("0.0.0.3=ok:3"),
            ],
            out _,
            out IReadOnlyList<string> errors));

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains("0.0.0.0") && e.Contains("reserved"));
        Assert.Contains(errors, e => e.Contains("ident 0.0.0.1 is given 2 different addresses: a:1 and b:1"));
        Assert.Contains(errors, e => e.Contains("ident 0.0.0.2 is given 3 different addresses: a:2 and b:2 and c:2"));
    }

    [Fact]
    public void Create_Conflict_ThrowsArgumentExceptionWithEveryProblem()
    {
        var exception = Assert.Throws<ArgumentException>(() =>
            NodeTable.Create([NodeEntry.Parse("0.0.0.1=a:1"), NodeEntry.Parse("0.0.0.1=b:1")]));

        Assert.Contains("a:1 and b:1", exception.Message);
    }

    [Fact]
    public void Empty_KnowsNothing()
    {
        Assert.Equal(0, NodeTable.Empty.Count);
        Assert.False(NodeTable.Empty.TryGetAddress(new Ident(1), out _));
    }

    [Fact]
    public void Members_Names_ByAscendingIdent_SharedAndEmptyForUnknown()
    {
        NodeTable table = NodeTable.Create(
        [
            NodeEntry.Parse("0.0.0.9=c:1/orders"),
            NodeEntry.Parse("0.0.0.2=a:1/orders,billing"),
            NodeEntry.Parse("0.0.0.5=b:1"),
            NodeEntry.Parse("0.0.0.5=b:1/billing", "--node"),
        ]);

        Assert.Equal([new Ident(2), new Ident(9)], table.Members("orders"));
        Assert.Equal([new Ident(2), new Ident(5)], table.Members("billing"));
        Assert.Empty(table.Members("nobody"));
        Assert.Same(table.Members("orders"), table.Members("orders"));
        Assert.True(table.TryGetEntry(new Ident(5), out NodeEntry merged));
        Assert.Equal(["billing"], merged.Names);
        Assert.False(table.TryGetEntry(new Ident(6), out _));

        long before = GC.GetAllocatedBytesForCurrentThread();
        _ = table.Members("orders");
        _ = table.Members("nobody");
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TryCreate_BadName_IsListed()
    {
        var entry = new NodeEntry(new Ident(1), new NodeAddress("a", 1)) { Names = ["Bad Name"], Source = "kaze.json" };
        Assert.False(NodeTable.TryCreate([entry], out _, out IReadOnlyList<string> errors));
        Assert.Contains(errors, e => e.Contains("'Bad Name'", StringComparison.Ordinal) && e.Contains("kaze.json", StringComparison.Ordinal));
    }
}
