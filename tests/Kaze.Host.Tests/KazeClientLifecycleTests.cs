using System.Diagnostics;
using Kaze.Core;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests;

/// <summary>The exit request, the sidecar's death or close, and the client's own stop and dispose.</summary>
public sealed class KazeClientLifecycleTests : IAsyncLifetime
{
    private static readonly Ident Remote = Ident.Parse("0.0.0.2");

    private readonly InMemoryPair _pair = InMemoryPair.Start(Ident.Parse("0.0.0.1"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _pair.DisposeAsync().AsTask();

    [Fact]
    public async Task ExitRequest_FromOwnSidecar_CancelsExitRequested()
    {
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int? callbackThread = null;
        using CancellationTokenRegistration registration = _pair.Client.ExitRequested.Register(() =>
        {
            callbackThread = Environment.CurrentManagedThreadId;
            exited.TrySetResult();
        });

        _pair.Sidecar.RequestExit();
        await exited.Task.Within("ExitRequested to be cancelled");

        Assert.True(_pair.Client.IsExitRequested);
        Assert.NotNull(callbackThread);
        Assert.False(_pair.Client.Completion.IsCompleted, "an exit request does not close the channel");
    }

    [Fact]
    public async Task ExitRequest_FromAnotherNode_Ignored()
    {
        _pair.Client.AddHandler("echo", Bytes.Echo);
        _pair.Sidecar.NotifyHost(ControlBodyTypes.Exit, default, Remote);
        // The reader handles packets in order: once the marker is answered, the forged exit was seen.
        await _pair.Sidecar.CallHostAsync("echo", Bytes.Of("marker")).Within("the marker answer");

        Assert.False(_pair.Client.IsExitRequested);
    }

    [Fact]
    public async Task SidecarKilled_PendingCallsFailPromptlyAndCompletionReportsPeerGone()
    {
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Drop);
        ValueTask<KazeResponse>[] calls = Enumerable.Range(0, 5)
            .Select(_ => _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(60)))
            .ToArray();
        Assert.Equal(5, _pair.Client.PendingCallCount);
        var stopwatch = Stopwatch.StartNew();

        _pair.Sidecar.Kill();
        ChannelStatus status = await _pair.Client.Completion.Within("Completion after the sidecar died");
        KazeResponse[] responses = await Task.WhenAll(calls.Select(c => c.AsTask())).Within("the pending calls to fail");

        Assert.Equal(ChannelStatus.PeerGone, status);
        Assert.All(responses, r =>
        {
            Assert.Equal(RetCode.Unreachable, r.Code);
            Assert.True(r.IsLocal);
        });
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"calls failed after {stopwatch.Elapsed}; their timeout is 60 s");
        Assert.Equal(0, _pair.Client.PendingCallCount);
    }

    [Fact]
    public async Task SidecarKilled_ExitRequestedFiresAfterCompletion()
    {
        var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = _pair.Client.ExitRequested.Register(() => exited.TrySetResult(_pair.Client.Completion.IsCompleted));

        _pair.Sidecar.Kill();
        bool completedFirst = await exited.Task.Within("ExitRequested after the sidecar died");

        Assert.True(completedFirst, "Completion must be complete when ExitRequested fires for a lost sidecar");
        Assert.Equal(ChannelStatus.PeerGone, await _pair.Client.Completion.Within("Completion after the sidecar died"));
    }

    [Fact]
    public async Task SidecarKilled_NewCallsReturnUnreachableAtOnce()
    {
        _pair.Sidecar.Kill();
        await _pair.Client.Completion.Within("Completion after the sidecar died");

        KazeResponse response = await _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x")).Within("a call after the sidecar died");

        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.True(response.IsLocal);
    }

    [Fact]
    public async Task SidecarClosed_RecordsSentBeforeCloseStillHandled()
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pair.Client.AddHandler("last.words", (r, _) =>
        {
            seen.TrySetResult(Bytes.Text(r.Body));
            return default;
        });

        _pair.Sidecar.NotifyHost("last.words", Bytes.Of("bye"));
        _pair.Sidecar.Close();
        ChannelStatus status = await _pair.Client.Completion.Within("Completion after the sidecar closed");

        Assert.Equal(ChannelStatus.Closed, status);
        Assert.Equal("bye", await seen.Task.Within("the notify sent before the close"));
    }

    [Fact]
    public async Task Dispose_PendingCalls_FailAndSidecarSeesHostClosed()
    {
        _pair.Sidecar.SetFault(Remote, InMemoryFault.Drop);
        ValueTask<KazeResponse> call = _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(60));

        await _pair.Client.DisposeAsync();
        KazeResponse response = await call.Within("the pending call to fail on dispose");

        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.Equal(ChannelStatus.Closed, await _pair.Client.Completion.Within("Completion after dispose"));
        await _pair.Sidecar.HostClosed.Within("the sidecar to see the host's end closed");
        Assert.Throws<ObjectDisposedException>(() => { _ = _pair.Client.CallAsync(Remote, "ping", Bytes.Of("x")); });
    }

    [Fact]
    public async Task Dispose_FromInlineHandlerOnReaderThread_DoesNotDeadlock()
    {
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pair.Client.AddHandler("suicide", (_, _) =>
        {
            _pair.Client.Dispose();
            disposed.TrySetResult();
            return default;
        });

        _pair.Sidecar.NotifyHost("suicide", default);

        await disposed.Task.Within("the handler's Dispose to return");
        Assert.Equal(ChannelStatus.Closed, await _pair.Client.Completion.Within("Completion after dispose from the reader"));
    }

    [Fact]
    public async Task StopAsync_HandlerInFlight_WaitsForItsResponseBeforeClosing()
    {
        var gate = new TaskCompletionSource();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pair.Client.AddHandler("slow", async (request, _) =>
        {
            entered.TrySetResult();
            await gate.Task;
            return KazeReply.Ok(request.Body);
        });
        Task<KazeResponse> call = _pair.Sidecar.CallHostAsync("slow", Bytes.Of("finish me"), timeout: TimeSpan.FromSeconds(30));
        await entered.Task.Within("the slow handler to start");

        Task stop = _pair.Client.StopAsync();
        Assert.False(stop.IsCompleted, "StopAsync returned while a handler was running");
        gate.SetResult();
        await stop.Within("StopAsync after the handler finished");
        KazeResponse response = await call.Within("the slow handler's response");

        Assert.Equal("finish me", Bytes.Text(response.Body));
        await _pair.Sidecar.HostClosed.Within("the channel to be closed after StopAsync");
    }
}
