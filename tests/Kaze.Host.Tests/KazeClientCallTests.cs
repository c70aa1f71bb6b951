using System.Diagnostics;
using Google.Protobuf;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests;

/// <summary>CallAsync and SendAsync against the in-memory sidecar: correlation, timeouts, failures.</summary>
public sealed class KazeClientCallTests : IAsyncLifetime
{
    private static readonly Ident Remote = Ident.Parse("0.0.0.2");

    private readonly InMemoryPair _pair = InMemoryPair.Start(Ident.Parse("0.0.0.1"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _pair.DisposeAsync().AsTask();

    [Fact]
    public async Task CallAsync_RemoteNodeAnswers_ReturnsItsResponse()
    {
        _pair.Sidecar.MapNode(Remote, "greet", (request, _) =>
            ValueTask.FromResult(new KazeReply(RetCode.Ok, Bytes.Of("hello " + Bytes.Text(request.Body)), "greet.rsp", new Dictionary<string, ByteString> { ["trace"] = ByteString.CopyFromUtf8("t1") })));

        KazeResponse response = await _pair.Client.CallAsync(Remote, "greet", Bytes.Of("kaze")).Within("the greet response");

        Assert.Equal(RetCode.Ok, response.Code);
        Assert.True(response.IsOk);
        Assert.False(response.IsLocal);
        Assert.Equal("hello kaze", Bytes.Text(response.Body));
        Assert.Equal("greet.rsp", response.BodyType);
        Assert.Equal(Remote, response.Source);
        Assert.Equal("t1", response.Headers["trace"].ToStringUtf8());
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_RequestOnTheWire_HasSequenceTimeoutAndDestination()
    {
        _pair.Sidecar.MapNode(Remote, "ping", Bytes.Echo);

        await _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromMilliseconds(1234), new Dictionary<string, ByteString> { ["k"] = ByteString.CopyFromUtf8("v") }).Within("the ping response");

        SentPacket request = Assert.Single(_pair.Sidecar.Sent);
        Assert.True(request.IsRequest);
        Assert.Equal(Hdr.RpcTypeOneofCase.Req, request.Header.RpcTypeCase);
        Assert.NotEqual(0u, request.Header.Req);
        Assert.Equal(1234u, request.Header.Timeout);
        Assert.Equal(Remote, request.Destination);
        Assert.Equal(_pair.Sidecar.Ident.Value, request.Header.SrcIdent);
        Assert.Equal(ProtocolVersion.Current, request.Header.Version);
        Assert.Equal("v", request.Header.Headers["k"].ToStringUtf8());
    }

    [Fact]
    public async Task CallAsync_NodeDropsRequests_CompletesWithTimeoutAndFreesPendingState()
    {
        _pair.Sidecar.MapNode(Remote, "ping", Bytes.Echo);
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Drop);
        var stopwatch = Stopwatch.StartNew();

        ValueTask<KazeResponse> call = _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, _pair.Client.PendingCallCount);
        KazeResponse response = await call.Within("the call to time out");

        Assert.Equal(RetCode.Timeout, response.Code);
        Assert.True(response.IsLocal);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(95), $"timed out after {stopwatch.Elapsed}, before its 100 ms");
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_ManyTimeoutsOfDifferentLengths_EachEndsOnItsOwnDeadline()
    {
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Drop);
        int[] timeouts = [300, 50, 200, 100, 150];
        var stopwatch = Stopwatch.StartNew();

        Task<(int Timeout, KazeResponse Response, TimeSpan At)>[] calls = timeouts
            .Select(async ms =>
            {
                KazeResponse response = await _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromMilliseconds(ms));
                return (ms, response, stopwatch.Elapsed);
            })
            .ToArray();
        var results = await Task.WhenAll(calls).Within("five calls to time out");

        foreach (var (timeout, response, at) in results)
        {
            Assert.Equal(RetCode.Timeout, response.Code);
            Assert.True(at >= TimeSpan.FromMilliseconds(timeout - 5), $"the {timeout} ms call ended after {at}");
        }

        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_UnknownNode_SidecarAnswersUnreachable()
    {
        KazeResponse response = await _pair.Client.CallAsync(Ident.Parse("9.9.9.9"), "ping", Bytes.Of("x")).Within("the unreachable answer");

        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.False(response.IsLocal);
        Assert.Equal(_pair.Sidecar.Ident, response.Source);
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_NodeMadeUnreachable_ReturnsUnreachableAtOnce()
    {
        _pair.Sidecar.MapNode(Remote, "ping", Bytes.Echo);
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Unreachable);

        KazeResponse response = await _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(30)).Within("the unreachable answer");

        Assert.Equal(RetCode.Unreachable, response.Code);
    }

    [Fact]
    public async Task CallAsync_Cancelled_ThrowsAndFreesPendingState()
    {
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Drop);
        using var cts = new CancellationTokenSource();

        ValueTask<KazeResponse> call = _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(30), cancellationToken: cts.Token);
        Assert.Equal(1, _pair.Client.PendingCallCount);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.AsTask()).Within("the cancelled call to throw");
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_AlreadyCancelledToken_ThrowsWithoutSending()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), cancellationToken: cts.Token).AsTask());

        Assert.Empty(_pair.Sidecar.Sent);
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_LateResponseAfterTimeout_IsDroppedAndNextCallUnaffected()
    {
        var release = new TaskCompletionSource();
        _pair.Sidecar.MapNode(Remote, "slow", async (request, _) =>
        {
            await release.Task;
            return KazeReply.Ok(request.Body);
        });
        _pair.Sidecar.MapNode(Remote, "ping", Bytes.Echo);

        KazeResponse timedOut = await _pair.Client.CallAsync(Remote, "slow", Bytes.Of("late"), TimeSpan.FromMilliseconds(50)).Within("the slow call to time out");
        release.SetResult();
        KazeResponse next = await _pair.Client.CallAsync(Remote, "ping", Bytes.Of("next")).Within("the next call");

        Assert.Equal(RetCode.Timeout, timedOut.Code);
        Assert.Equal("next", Bytes.Text(next.Body));
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_ToAnyIdent_ReachesOwnHandler()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);

        KazeResponse viaAny = await _pair.Client.CallAsync(Ident.Any, "echo", Bytes.Of("self")).Within("the call to this host via 0.0.0.0");
        KazeResponse viaOwn = await _pair.Client.CallAsync(_pair.Sidecar.Ident, "echo", Bytes.Of("own")).Within("the call to this host via its ident");

        Assert.Equal("self", Bytes.Text(viaAny.Body));
        Assert.Equal("own", Bytes.Text(viaOwn.Body));
        Assert.Equal(_pair.Sidecar.Ident, viaAny.Source);
    }

    [Fact]
    public async Task CallAsync_ManyConcurrentCallers_EveryResponseMatchesItsRequest()
    {
        const int Callers = 8;
        const int CallsEach = 10_000;
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Sidecar.MapNode(Remote, "echo", Bytes.Echo);

        Task<int>[] callers = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            int ok = 0;
            byte[] body = new byte[8];
            for (int i = 0; i < CallsEach; i++)
            {
                BitConverter.TryWriteBytes(body, ((long)caller << 32) | (uint)i);
                // Half the calls loop back to this host, half go to the fake remote node.
                Ident destination = (i & 1) == 0 ? Ident.Any : Remote;
                KazeResponse response = await _pair.Client.CallAsync(destination, "echo", body, TimeSpan.FromSeconds(30));
                Assert.Equal(RetCode.Ok, response.Code);
                Assert.Equal(((long)caller << 32) | (uint)i, BitConverter.ToInt64(response.Body.Span));
                ok++;
            }

            return ok;
        })).ToArray();

        int[] done = await Task.WhenAll(callers).Within($"{Callers} callers to finish {CallsEach} calls each", TimeSpan.FromSeconds(120));

        Assert.All(done, count => Assert.Equal(CallsEach, count));
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_PacketLargerThanChannel_ThrowsArgumentException()
    {
        byte[] huge = new byte[_pair.Client.MaxPacketSize];

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _pair.Client.CallAsync(Remote, "big", huge).AsTask());

        Assert.Contains("more than the channel carries", error.Message);
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task CallAsync_ZeroTimeout_ThrowsArgumentOutOfRange()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.Zero).AsTask());
    }

    [Fact]
    public async Task CallAsync_BeforeStart_ThrowsInvalidOperation()
    {
        await using InMemoryPair notStarted = InMemoryPair.Create();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => notStarted.Client.CallAsync(Remote, "ping", Bytes.Of("x")).AsTask());

        Assert.Contains("Start", error.Message);
    }

    [Fact]
    public async Task SendAsync_Notify_SidecarReceivesItWithHeaders()
    {
        bool sent = await _pair.Client.SendAsync(Remote, "log.line", Bytes.Of("hi"), new Dictionary<string, ByteString> { ["level"] = ByteString.CopyFromUtf8("info") }).Within("the notify to be written");
        SentPacket notify = await _pair.Sidecar.WaitForSentAsync(p => p.BodyType == "log.line").Within("the sidecar to receive the notify");

        Assert.True(sent);
        Assert.True(notify.IsNotify);
        Assert.Equal(0u, notify.Header.Timeout);
        Assert.Equal(Hdr.RpcTypeOneofCase.None, notify.Header.RpcTypeCase);
        Assert.Equal("hi", Bytes.Text(notify.Body));
        Assert.Equal("info", notify.Header.Headers["level"].ToStringUtf8());
    }

    [Fact]
    public async Task SendAsync_AfterSidecarClosed_ReturnsFalse()
    {
        _pair.Sidecar.Close();
        await _pair.Client.Completion.Within("the client to see the channel closed");

        bool sent = await _pair.Client.SendAsync(Remote, "log.line", Bytes.Of("hi")).Within("SendAsync to return");

        Assert.False(sent);
    }
}
