using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Tests;

/// <summary>Handlers: registry, responses, errors, notifies, and the reader thread's rules.</summary>
public sealed class KazeClientHandlerTests : IAsyncLifetime
{
    private static readonly Ident Caller = Ident.Parse("0.0.0.7");

    private readonly CollectingLoggerProvider _logs = new();
    private ILoggerFactory _loggerFactory = null!;
    private InMemoryPair _pair = null!;

    public Task InitializeAsync()
    {
        _loggerFactory = _logs.CreateFactory();
        _pair = InMemoryPair.Create(Ident.Parse("0.0.0.1"), loggerFactory: _loggerFactory);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _pair.DisposeAsync();
        _loggerFactory.Dispose();
    }

    [Fact]
    public async Task AddHandler_BeforeStart_AnswersRequestToItsSource()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Client.Start();

        KazeResponse response = await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("ping"), Caller).Within("the host's echo response");
        SentPacket wire = await _pair.Sidecar.WaitForSentAsync(p => p.IsResponse).Within("the response on the wire");

        Assert.Equal(RetCode.Ok, response.Code);
        Assert.Equal("ping", Bytes.Text(response.Body));
        Assert.Equal("echo", response.BodyType);
        Assert.Equal(Caller, wire.Destination);
        Assert.Equal(Hdr.RpcTypeOneofCase.Rsp, wire.Header.RpcTypeCase);
        Assert.True(wire.Header.Rsp >= 0x8000_0000u, "rsp must echo the request's sequence");
        Assert.Equal(0u, wire.Header.Timeout);
    }

    [Fact]
    public async Task AddHandler_AfterStart_IsUsedForLaterRequests()
    {
        _pair.Client.Start();
        KazeResponse before = await _pair.Sidecar.CallHostAsync("late", Bytes.Of("x"), Caller).Within("the answer before registration");

        _pair.Client.AddHandler("late", (_, _) => ValueTask.FromResult(KazeReply.Ok(Bytes.Of("now"))));
        KazeResponse after = await _pair.Sidecar.CallHostAsync("late", Bytes.Of("x"), Caller).Within("the answer after registration");

        Assert.Equal(KazeClient.NoHandlerCode, before.Code);
        Assert.Equal("now", Bytes.Text(after.Body));
    }

    [Fact]
    public async Task RemoveHandler_Registered_LaterRequestsGetNoHandlerCode()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Client.Start();

        bool removed = _pair.Client.RemoveHandler("echo");
        KazeResponse response = await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("x"), Caller).Within("the no-handler answer");

        Assert.True(removed);
        Assert.False(_pair.Client.RemoveHandler("echo"));
        Assert.Equal(KazeClient.NoHandlerCode, response.Code);
    }

    [Fact]
    public void AddHandler_SameBodyTypeTwice_Throws()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);

        var error = Assert.Throws<InvalidOperationException>(() => _pair.Client.AddHandler("echo", Bytes.Echo));

        Assert.Contains("'echo'", error.Message);
    }

    [Fact]
    public void AddHandler_ExitBodyType_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => _pair.Client.AddHandler(ControlBodyTypes.Exit, Bytes.Echo));

        Assert.Contains("ExitRequested", error.Message);
    }

    [Fact]
    public async Task Request_NoHandler_AnsweredNoHandlerCodeAndLogged()
    {
        _pair.Client.Start();

        KazeResponse response = await _pair.Sidecar.CallHostAsync("nobody.home", Bytes.Of("x"), Caller).Within("the no-handler answer");

        Assert.Equal(KazeClient.NoHandlerCode, response.Code);
        Assert.Empty(response.Body.ToArray());
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 302 && e.Message.Contains("nobody.home"));
    }

    [Fact]
    public async Task Handler_ThrowsSynchronously_AnsweredHandlerFailedCodeAndLogged()
    {
        _pair.Client.AddHandler("boom", (_, _) => throw new InvalidDataException("bad input"));
        _pair.Client.Start();

        KazeResponse response = await _pair.Sidecar.CallHostAsync("boom", Bytes.Of("x"), Caller).Within("the error answer");

        Assert.Equal(KazeClient.HandlerFailedCode, response.Code);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 301 && e.Exception is InvalidDataException && e.Level == LogLevel.Error);
    }

    [Fact]
    public async Task Handler_ThrowsAfterAwait_AnsweredHandlerFailedCodeAndLogged()
    {
        _pair.Client.AddHandler("boom", async (_, _) =>
        {
            await Task.Yield();
            throw new InvalidDataException("bad input later");
        });
        _pair.Client.Start();

        KazeResponse response = await _pair.Sidecar.CallHostAsync("boom", Bytes.Of("x"), Caller).Within("the error answer");

        Assert.Equal(KazeClient.HandlerFailedCode, response.Code);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 301 && e.Exception is InvalidDataException);
    }

    [Fact]
    public async Task Handler_Async_DoesNotStallOtherRequests()
    {
        var gate = new TaskCompletionSource();
        _pair.Client.AddHandler("slow", async (request, _) =>
        {
            await gate.Task;
            return KazeReply.Ok(request.Body);
        });
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Client.Start();

        Task<KazeResponse> slow = _pair.Sidecar.CallHostAsync("slow", Bytes.Of("slow body"), Caller, TimeSpan.FromSeconds(30));
        KazeResponse fast = await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("fast"), Caller).Within("the fast answer while the slow handler waits");
        Assert.False(slow.IsCompleted);
        gate.SetResult();
        KazeResponse slowResponse = await slow.Within("the slow answer");

        Assert.Equal("fast", Bytes.Text(fast.Body));
        // The body was lent for as long as the handler ran, through the await.
        Assert.Equal("slow body", Bytes.Text(slowResponse.Body));
    }

    [Fact]
    public async Task Notify_WithHandler_HandledAndNoResponseSent()
    {
        var received = new TaskCompletionSource<(string Body, Ident Source, bool Expects)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pair.Client.AddHandler("note", (request, _) =>
        {
            received.TrySetResult((Bytes.Text(request.Body), request.Source, request.ExpectsResponse));
            return ValueTask.FromResult(KazeReply.Ok(Bytes.Of("ignored")));
        });
        _pair.Client.Start();

        _pair.Sidecar.NotifyHost("note", Bytes.Of("n1"), Caller);
        var (body, source, expects) = await received.Task.Within("the notify to reach its handler");
        // A marker call proves the reader has moved past the notify, so a response would have been sent.
        _pair.Client.AddHandler("echo", Bytes.Echo);
        await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("marker"), Caller).Within("the marker answer");

        Assert.Equal("n1", body);
        Assert.Equal(Caller, source);
        Assert.False(expects);
        Assert.Single(_pair.Sidecar.Sent, p => p.IsResponse);
    }

    [Fact]
    public async Task Notify_NoHandler_DroppedWithoutResponse()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Client.Start();

        _pair.Sidecar.NotifyHost("unknown.note", Bytes.Of("x"), Caller);
        await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("marker"), Caller).Within("the marker answer");

        Assert.Single(_pair.Sidecar.Sent, p => p.IsResponse);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 303);
    }

    [Fact]
    public async Task Handler_ReplyWithHeadersAndError_BothReachCaller()
    {
        _pair.Client.AddHandler("limited", (_, _) => ValueTask.FromResult(new KazeReply(RetCode.ResourceExhausted, Bytes.Of("slow down"), "limit", new Dictionary<string, Google.Protobuf.ByteString> { ["retry-after"] = Google.Protobuf.ByteString.CopyFromUtf8("5") })));
        _pair.Client.Start();

        KazeResponse response = await _pair.Sidecar.CallHostAsync("limited", Bytes.Of("x"), Caller).Within("the limited answer");

        Assert.Equal(RetCode.ResourceExhausted, response.Code);
        Assert.Equal("slow down", Bytes.Text(response.Body));
        Assert.Equal("5", response.Headers["retry-after"].ToStringUtf8());
    }

    [Fact]
    public async Task Handler_ReplyLargerThanChannel_AnsweredResourceExhausted()
    {
        await using InMemoryPair small = InMemoryPair.Create(maxPacketSize: 1024, loggerFactory: _loggerFactory);
        small.Client.AddHandler("big", (_, _) => ValueTask.FromResult(KazeReply.Ok(new byte[4096])));
        small.Client.Start();

        KazeResponse response = await small.Sidecar.CallHostAsync("big", Bytes.Of("x"), Caller).Within("the too-large answer");

        Assert.Equal(KazeClient.ReplyTooLargeCode, response.Code);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 310);
    }
}
