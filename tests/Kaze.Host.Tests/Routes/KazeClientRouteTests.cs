using Google.Protobuf;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests.Routes;

/// <summary>
/// The KazeRoute overloads of SendAsync and CallAsync against the in-memory sidecar: what reaches
/// the wire (the header's route oneof, sequence, timeout), and that a call completes with the
/// sidecar's answer. The in-memory sidecar models dstIdent only: it answers a request on any other
/// route UNREACHABLE at once, as a sidecar with no matching node does.
/// </summary>
public sealed class KazeClientRouteTests : IAsyncLifetime
{
    private static readonly Ident Remote = Ident.Parse("0.0.1.2");
    private static readonly Ident Group = Ident.Parse("0.0.1.0");
    private const uint Mask24 = 0xFFFF_FF00;

    private readonly InMemoryPair _pair = InMemoryPair.Start(Ident.Parse("0.0.1.1"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _pair.DisposeAsync().AsTask();

    [Fact]
    public async Task SendAsync_RandomRoute_NotifyCarriesDstRandom()
    {
        bool sent = await _pair.Client.SendAsync(KazeRoute.Random(Group, Mask24), "tick", Bytes.Of("r")).AsTask().Within("the notify to be queued");

        SentPacket packet = await _pair.Sidecar.WaitForSentAsync(p => p.BodyType == "tick").Within("the notify on the wire");
        Assert.True(sent);
        Assert.True(packet.IsNotify);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstRandom, packet.Header.RouteTypeCase);
        Assert.Equal(Group.Value, packet.Header.DstRandom.Ident);
        Assert.Equal(Mask24, packet.Header.DstRandom.Mask);
        Assert.Equal(0u, packet.Header.Timeout);
        Assert.Equal("r", Bytes.Text(packet.Body));
    }

    [Fact]
    public async Task SendAsync_BroadcastRoute_NotifyCarriesDstBroadcastAndHeaders()
    {
        var headers = new Dictionary<string, ByteString> { ["k"] = ByteString.CopyFromUtf8("v") };

        await _pair.Client.SendAsync(KazeRoute.Broadcast(Group, Mask24), "tick", Bytes.Of("b"), headers).AsTask().Within("the notify to be queued");

        SentPacket packet = await _pair.Sidecar.WaitForSentAsync(p => p.BodyType == "tick").Within("the notify on the wire");
        Assert.Equal(Hdr.RouteTypeOneofCase.DstBroadcast, packet.Header.RouteTypeCase);
        Assert.Equal(Group.Value, packet.Header.DstBroadcast.Ident);
        Assert.Equal(Mask24, packet.Header.DstBroadcast.Mask);
        Assert.Equal("v", packet.Header.Headers["k"].ToStringUtf8());
    }

    [Fact]
    public async Task SendAsync_MulticastRoute_NotifyCarriesTheMembersInOrder()
    {
        await _pair.Client.SendAsync(KazeRoute.Multicast(Ident.Parse("0.0.1.3"), Remote), "tick", Bytes.Of("m")).AsTask().Within("the notify to be queued");

        SentPacket packet = await _pair.Sidecar.WaitForSentAsync(p => p.BodyType == "tick").Within("the notify on the wire");
        Assert.Equal(Hdr.RouteTypeOneofCase.DstMulticast, packet.Header.RouteTypeCase);
        Assert.Equal([Ident.Parse("0.0.1.3").Value, Remote.Value], packet.Header.DstMulticast.DstIdents);
    }

    [Fact]
    public async Task SendAsync_NodeRouteToAny_SetsDstIdentZeroLikeTheIdentOverload()
    {
        _pair.Client.AddHandler("tick", Bytes.Echo);

        await _pair.Client.SendAsync(KazeRoute.Node(Ident.Any), "tick", Bytes.Of("1")).AsTask().Within("the route notify to be queued");
        await _pair.Client.SendAsync(Ident.Any, "tick", Bytes.Of("2")).AsTask().Within("the ident notify to be queued");

        SentPacket second = await _pair.Sidecar.WaitForSentAsync(p => p.BodyType == "tick" && Bytes.Text(p.Body) == "2").Within("the second notify on the wire");
        SentPacket first = Assert.Single(_pair.Sidecar.Sent, p => p.BodyType == "tick" && Bytes.Text(p.Body) == "1");
        Assert.Equal(second.Header.RouteTypeCase, first.Header.RouteTypeCase);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, first.Header.RouteTypeCase);
        Assert.Equal(0u, first.Header.DstIdent);
    }

    [Fact]
    public async Task CallAsync_NodeRoute_BehavesAsTheIdentOverload()
    {
        _pair.Sidecar.MapNode(Remote, "echo", Bytes.Echo);

        KazeResponse response = await _pair.Client.CallAsync(KazeRoute.Node(Remote), "echo", Bytes.Of("same"), TimeSpan.FromMilliseconds(1500)).Within("the echo response");

        Assert.True(response.IsOk, response.ToString());
        Assert.Equal(Remote, response.Source);
        Assert.Equal("same", Bytes.Text(response.Body));
        SentPacket request = Assert.Single(_pair.Sidecar.Sent, p => p.IsRequest);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, request.Header.RouteTypeCase);
        Assert.Equal(Remote, request.Destination);
        Assert.Equal(1500u, request.Header.Timeout);
    }

    [Theory]
    [InlineData(KazeRouteKind.Random)]
    [InlineData(KazeRouteKind.Broadcast)]
    [InlineData(KazeRouteKind.Multicast)]
    public async Task CallAsync_GroupRoute_RequestCarriesRouteSequenceAndTimeout(KazeRouteKind kind)
    {
        KazeRoute route = kind switch
        {
            KazeRouteKind.Random => KazeRoute.Random(Group, Mask24),
            KazeRouteKind.Broadcast => KazeRoute.Broadcast(Group, Mask24),
            _ => KazeRoute.Multicast(Remote, Ident.Parse("0.0.1.3")),
        };

        KazeResponse response = await _pair.Client.CallAsync(route, "echo", Bytes.Of("x"), TimeSpan.FromSeconds(7)).Within($"the answer to the {kind} call");

        SentPacket request = Assert.Single(_pair.Sidecar.Sent, p => p.IsRequest);
        Assert.NotEqual(0u, request.Header.Req);
        Assert.Equal(7000u, request.Header.Timeout);
        Assert.Equal(ProtocolVersion.Current, request.Header.Version);
        Assert.Equal(kind switch
        {
            KazeRouteKind.Random => Hdr.RouteTypeOneofCase.DstRandom,
            KazeRouteKind.Broadcast => Hdr.RouteTypeOneofCase.DstBroadcast,
            _ => Hdr.RouteTypeOneofCase.DstMulticast,
        }, request.Header.RouteTypeCase);

        // The in-memory sidecar routes dstIdent only: its answer stands for "no node of the group".
        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.False(response.IsLocal);
        Assert.Equal(_pair.Sidecar.Ident, response.Source);
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_RouteOverloadNotStarted_Throws()
    {
        await using InMemoryPair notStarted = InMemoryPair.Create(Ident.Parse("0.0.1.1"));

        Assert.Throws<InvalidOperationException>(() => notStarted.Client.CallAsync(KazeRoute.Random(Group, Mask24), "echo", Bytes.Of("x")));
    }
}
