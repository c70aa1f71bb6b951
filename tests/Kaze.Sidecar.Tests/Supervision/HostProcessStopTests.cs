using System.Diagnostics;
using Kaze.Sidecar.Supervision;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Supervision;

/// <summary>
/// StopAsync: the exit request first, then SIGKILL when the grace period is over. The "request"
/// in these tests creates a file that the child polls for, as a host polls its channel.
/// </summary>
public sealed class HostProcessStopTests
{
    private static readonly TimeSpan ShortGrace = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan LongGrace = TimeSpan.FromSeconds(30);

    // A child that ignores every signal it can and never looks at the request.
    private const string Stubborn = "trap '' TERM INT HUP QUIT; touch \"$READY\"; while :; do sleep 0.05; done";

    // A child that exits 4 once the request file exists.
    private const string Obedient = "touch \"$READY\"; while [ ! -e \"$STOP\" ]; do sleep 0.02; done; exit 4";

    [Fact]
    public async Task StopAsync_ChildExitsOnRequest_ReturnsItsCodeWellBeforeGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Obedient);
        int requests = 0;
        var stopwatch = Stopwatch.StartNew();

        int exitCode = await host.StopAsync(LongGrace, _ =>
        {
            Interlocked.Increment(ref requests);
            File.WriteAllText(dir.File("stop"), "");
            return Task.CompletedTask;
        }).Within("StopAsync to return after the child obeyed the request");

        Assert.Equal(4, exitCode);
        Assert.Equal(1, requests);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"StopAsync took {stopwatch.Elapsed}, the grace period is {LongGrace}");
    }

    [Fact]
    public async Task StopAsync_ChildIgnoresRequestAndSignals_KilledAfterGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);
        int requests = 0;
        var stopwatch = Stopwatch.StartNew();

        int exitCode = await host.StopAsync(ShortGrace, _ =>
        {
            Interlocked.Increment(ref requests);
            return Task.CompletedTask;
        }).Within("StopAsync to kill the stubborn child");

        TimeSpan elapsed = stopwatch.Elapsed;
        Assert.Equal(137, exitCode);
        Assert.Equal(1, requests);
        Assert.True(elapsed >= ShortGrace - TimeSpan.FromMilliseconds(20), $"killed after {elapsed}, before the grace period of {ShortGrace} was over");
        Assert.True(elapsed < ShortGrace + TimeSpan.FromSeconds(5), $"killed only after {elapsed}");
    }

    [Fact]
    public async Task StopAsync_RequestThrows_StillKilledAfterGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);

        int exitCode = await host.StopAsync(ShortGrace, _ => throw new IOException("channel closed"))
            .Within("StopAsync to kill the child after a failed request");

        Assert.Equal(137, exitCode);
    }

    [Fact]
    public async Task StopAsync_RequestNeverCompletes_StillKilledAfterGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);
        var never = new TaskCompletionSource();

        int exitCode = await host.StopAsync(ShortGrace, _ => never.Task)
            .Within("StopAsync to kill the child while the request hangs");

        Assert.Equal(137, exitCode);
    }

    [Fact]
    public async Task StopAsync_RequestBlocksItsThread_StillKilledAfterGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);
        using var release = new ManualResetEventSlim();
        try
        {
            int exitCode = await host.StopAsync(ShortGrace, _ =>
            {
                release.Wait(Deadline.Default); // a synchronous request stuck on a full ring
                return Task.CompletedTask;
            }).Within("StopAsync to kill the child while the request blocks");

            Assert.Equal(137, exitCode);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task StopAsync_ChildExits_RequestTokenCancelled()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Obedient);
        var requestSawCancel = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        int exitCode = await host.StopAsync(LongGrace, async token =>
        {
            using CancellationTokenRegistration _ = token.Register(() => requestSawCancel.TrySetResult());
            File.WriteAllText(dir.File("stop"), "");
            await Task.Delay(Timeout.Infinite, token); // e.g. waiting for an acknowledgement
        }).Within("StopAsync to return after the child exited");

        Assert.Equal(4, exitCode);
        await requestSawCancel.Task.Within("the request's token to be cancelled once the child exited");
    }

    [Fact]
    public async Task StopAsync_ChildAlreadyExited_ReturnsCodeWithoutRequest()
    {
        using HostProcess host = Sh.Start("exit 2");
        await host.Exited.Within("sh to exit");
        bool requested = false;

        int exitCode = await host.StopAsync(LongGrace, _ =>
        {
            requested = true;
            return Task.CompletedTask;
        }).Within("StopAsync of an exited child");

        Assert.Equal(2, exitCode);
        Assert.False(requested);
    }

    [Fact]
    public async Task StopAsync_NoRequest_KilledAfterGrace()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);

        Assert.Equal(137, await host.StopAsync(ShortGrace, requestExit: null).Within("StopAsync without a request"));
    }

    [Fact]
    public async Task StopAsync_ZeroGrace_KillsAtOnce()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);

        Assert.Equal(137, await host.StopAsync(TimeSpan.Zero, requestExit: null).Within("StopAsync with no grace"));
    }

    [Fact]
    public async Task StopAsync_Cancelled_StopsWaitingAndKills()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Stubborn);
        using var cts = new CancellationTokenSource();
        var requested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task<int> stop = host.StopAsync(LongGrace, _ =>
        {
            requested.TrySetResult();
            return Task.CompletedTask;
        }, cts.Token);
        await requested.Task.Within("the exit request");
        Assert.False(stop.IsCompleted);
        cts.Cancel();

        Assert.Equal(137, await stop.Within("the cancelled StopAsync to kill the child", TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task StopAsync_CalledTwice_OneRequestOneResult()
    {
        using var dir = new TempDirectory();
        using HostProcess host = await StartReadyAsync(dir, Obedient);
        int requests = 0;
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<CancellationToken, Task> requestExit = async _ =>
        {
            Interlocked.Increment(ref requests);
            await first.Task; // hold the request until both calls are in
            File.WriteAllText(dir.File("stop"), "");
        };

        Task<int> a = host.StopAsync(LongGrace, requestExit);
        Task<int> b = host.StopAsync(LongGrace, requestExit);
        first.SetResult();

        Assert.Equal(4, await a.Within("the first StopAsync"));
        Assert.Equal(4, await b.Within("the second StopAsync"));
        Assert.Equal(1, requests);
    }

    [Fact]
    public void StopAsync_NegativeGrace_Throws()
    {
        using HostProcess host = Sh.Start("exit 0");

        // Thrown by the call itself, not by the task: a misuse, not an outcome.
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = host.StopAsync(TimeSpan.FromSeconds(-1), null); });
    }

    private static async Task<HostProcess> StartReadyAsync(TempDirectory dir, string script)
    {
        string ready = dir.File("ready");
        HostProcess host = Sh.Start(script, new Dictionary<string, string?> { ["READY"] = ready, ["STOP"] = dir.File("stop") });
        await ReadyFile.Appears(ready, "the child to install its traps and start its loop", host.Exited);
        return host;
    }
}
