using Kaze.Protocol;

namespace Kaze.Host.Tests.Routes;

/// <summary>KazeRoute on its own: the factories, their checks, equality and the text for logs.</summary>
public sealed class KazeRouteTests
{
    private static readonly Ident Group = Ident.Parse("0.0.1.0");
    private const uint Mask24 = 0xFFFF_FF00;

    [Fact]
    public void Default_IsNodeAny_ThisHostItself()
    {
        KazeRoute route = default;

        Assert.Equal(KazeRouteKind.Node, route.Kind);
        Assert.Equal(Ident.Any, route.Ident);
        Assert.Equal(KazeRoute.Node(Ident.Any), route);
        Assert.Empty(route.Members);
    }

    [Fact]
    public void Random_ValidSelector_KeepsIdentAndMask()
    {
        KazeRoute route = KazeRoute.Random(Group, Mask24);

        Assert.Equal(KazeRouteKind.Random, route.Kind);
        Assert.Equal(Group, route.Ident);
        Assert.Equal(Mask24, route.Mask);
        Assert.Empty(route.Members);
    }

    [Fact]
    public void Broadcast_ZeroMask_MatchesEveryNodeAndIsAccepted()
    {
        KazeRoute route = KazeRoute.Broadcast(Ident.Any, 0);

        Assert.Equal(KazeRouteKind.Broadcast, route.Kind);
        Assert.Equal(0u, route.Mask);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("broadcast")]
    public void Selector_IdentHasBitsOutsideTheMask_ThrowsNamingTheFix(string kind)
    {
        Ident ident = Ident.Parse("0.0.1.5");

        ArgumentException e = Assert.Throws<ArgumentException>(() => kind == "random" ? KazeRoute.Random(ident, Mask24) : KazeRoute.Broadcast(ident, Mask24));

        Assert.Equal("ident", e.ParamName);
        Assert.Contains("0.0.1.5/255.255.255.0", e.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 0.0.1.0?", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multicast_Nodes_KeepsThemInOrder()
    {
        Ident[] nodes = [Ident.Parse("0.0.1.3"), Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3")];

        KazeRoute route = KazeRoute.Multicast(nodes);

        Assert.Equal(KazeRouteKind.Multicast, route.Kind);
        Assert.Equal(nodes, route.Members);
        Assert.Equal(Ident.Any, route.Ident);
    }

    [Fact]
    public void Multicast_CallerChangesItsArrayAfterwards_RouteKeepsItsMembers()
    {
        Ident[] nodes = [Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3")];
        KazeRoute route = KazeRoute.Multicast(nodes);

        nodes[0] = Ident.Parse("9.9.9.9");

        Assert.Equal([Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3")], route.Members);
    }

    [Fact]
    public void Multicast_NoNodes_Throws()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => KazeRoute.Multicast());

        Assert.Equal("nodes", e.ParamName);
    }

    [Fact]
    public void Multicast_NullArray_ThrowsArgumentNull() =>
        Assert.Throws<ArgumentNullException>(() => KazeRoute.Multicast(null!));

    [Fact]
    public void Equals_SameRoutes_EqualWithEqualHashes()
    {
        (KazeRoute A, KazeRoute B)[] pairs =
        [
            (KazeRoute.Node(Ident.Parse("0.0.1.2")), KazeRoute.Node(Ident.Parse("0.0.1.2"))),
            (KazeRoute.Random(Group, Mask24), KazeRoute.Random(Group, Mask24)),
            (KazeRoute.Broadcast(Group, Mask24), KazeRoute.Broadcast(Group, Mask24)),
            (KazeRoute.Multicast(Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3")), KazeRoute.Multicast(Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3"))),
        ];

        foreach ((KazeRoute a, KazeRoute b) in pairs)
        {
            Assert.True(a == b, $"{a} != {b}");
            Assert.Equal(a.GetHashCode(), b.GetHashCode());
        }
    }

    [Fact]
    public void Equals_DifferentKindOrMembers_NotEqual()
    {
        Ident two = Ident.Parse("0.0.1.2");
        Ident three = Ident.Parse("0.0.1.3");

        Assert.NotEqual(KazeRoute.Random(Group, Mask24), KazeRoute.Broadcast(Group, Mask24));
        Assert.NotEqual(KazeRoute.Random(Group, Mask24), KazeRoute.Random(Group, 0xFFFF_FF80));
        Assert.NotEqual(KazeRoute.Multicast(two, three), KazeRoute.Multicast(three, two));
        Assert.NotEqual(KazeRoute.Multicast(two), KazeRoute.Node(two));
        Assert.True(KazeRoute.Node(two) != KazeRoute.Node(three));
    }

    [Fact]
    public void ToString_EachKind_ReadsAsInTheSidecarsLogs()
    {
        Assert.Equal("0.0.1.2", KazeRoute.Node(Ident.Parse("0.0.1.2")).ToString());
        Assert.Equal("random 0.0.1.0/255.255.255.0", KazeRoute.Random(Group, Mask24).ToString());
        Assert.Equal("broadcast 0.0.1.0/255.255.255.0", KazeRoute.Broadcast(Group, Mask24).ToString());
        Assert.Equal("multicast 0.0.1.2,0.0.1.3", KazeRoute.Multicast(Ident.Parse("0.0.1.2"), Ident.Parse("0.0.1.3")).ToString());
    }
}
