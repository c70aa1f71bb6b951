using System.Diagnostics;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// A stop signal to kaze reaches the host twice: as the signal itself, passed on, and as the
/// <c>kaze.exit</c> request on the channel. A host that exits on either is not kept to the grace period.
/// </summary>
public sealed class RunCommandSignalTests(ITestOutputHelper output) : IDisposable
{
    // Long, so that an exit that waited for it would be plain; the tests allow far less.
    private const string LongGrace = "30s";
    private static readonly TimeSpan WellBeforeGrace = TimeSpan.FromSeconds(10);

    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_SigtermWhileChildTrapsIt_ExitsWithTheChildsCode()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunSh(channel, ["--grace", LongGrace], """
            trap 'echo got-term; kill $sleeper; exit 7' TERM
            sleep 60 & sleeper=$!
            echo "ready $$"
            wait $sleeper
            """);
        await _runs.WaitForReadyChildAsync(kaze, "the child to install its TERM trap");

        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAndOutputAsync("kaze to exit after SIGTERM (the child traps it and exits 7)", WellBeforeGrace);

        Assert.True(code == 7, $"expected the child's 7, got {code}\n{kaze.Describe()}");
        Assert.Contains("got-term", kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after SIGTERM to kaze");
    }

    [Fact]
    public async Task Run_SigtermWithEchoServe_EchoExitsZeroWellBeforeTheGrace()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunEcho(channel, ["--grace", LongGrace], "serve");
        await kaze.Stdout.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), "Kaze.Echo serve to start (its Generic Host says 'Application started')");

        var stopwatch = Stopwatch.StartNew();
        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAndOutputAsync("kaze to exit after SIGTERM with Kaze.Echo serve as its host", WellBeforeGrace);

        output.WriteLine($"SIGTERM to exit with Kaze.Echo serve: {stopwatch.Elapsed.TotalMilliseconds:0} ms (grace {LongGrace})");
        Assert.True(code == 0, $"expected 0 from Kaze.Echo serve, got {code}\n{kaze.Describe()}");
        Assert.DoesNotContain(kaze.Stderr.Lines, l => l.StartsWith("Kaze.Echo:", StringComparison.Ordinal));
        KazeRuns.AssertChannelGone(channel, "after SIGTERM to kaze");
    }

    [Theory]
    [InlineData(15, "SIGTERM")]
    [InlineData(2, "SIGINT")]
    public async Task Run_StopSignalWithAPlainKazeClientHost_HostExitsZero(int signal, string name)
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, ["--grace", LongGrace], "serve-plain");
        await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("plain ready", StringComparison.Ordinal), "Kaze.TestHost serve-plain to connect");

        kaze.Signal(signal);
        int code = await kaze.WaitForExitAndOutputAsync($"kaze to exit after {name} (the client turns it into its exit request)", WellBeforeGrace);

        // Not 128+N: the forwarded signal reached a KazeClient, which made it the graceful exit.
        Assert.True(code == 0, $"expected 0 from a plain KazeClient host after {name}, got {code}\n{kaze.Describe()}");
        Assert.Contains(kaze.Stdout.Lines, l => l.StartsWith("plain exit-requested=True", StringComparison.Ordinal));
        KazeRuns.AssertChannelGone(channel, $"after {name} to kaze");
    }

    /// <summary>
    /// The exit request on its own: this host ignores every signal, so only the <c>kaze.exit</c>
    /// notify can make it exit before the grace period's SIGKILL.
    /// </summary>
    [Theory]
    [InlineData(15, "SIGTERM")]
    [InlineData(2, "SIGINT")]
    [InlineData(3, "SIGQUIT")]
    public async Task Run_StopSignalWithHostThatIgnoresSignals_HostExitsZeroOnTheExitRequest(int signal, string name)
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, ["--grace", LongGrace], "serve-until-exit");
        await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("serve ready", StringComparison.Ordinal), "Kaze.TestHost serve-until-exit to connect");

        var stopwatch = Stopwatch.StartNew();
        kaze.Signal(signal);
        int code = await kaze.WaitForExitAndOutputAsync($"kaze to exit after {name} (the host exits only on kaze.exit)", WellBeforeGrace);
        output.WriteLine($"{name} to exit through kaze.exit: {stopwatch.Elapsed.TotalMilliseconds:0} ms (grace {LongGrace})");

        Assert.True(code == 0, $"expected 0 (the host saw kaze.exit), got {code} after {name}\n{kaze.Describe()}");
        Assert.Contains(kaze.Stdout.Lines, l => l.StartsWith("serve exit-requested=true", StringComparison.Ordinal));
        KazeRuns.AssertChannelGone(channel, $"after {name} to kaze");
    }
}

/// <summary>A host that ignores the stop signal and the exit request is SIGKILLed when the grace period is over.</summary>
[Collection(SerialTests.Name)]
public sealed class RunCommandGraceTests(ITestOutputHelper output) : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_SigtermWhileChildIgnoresEverything_SigkillsItAfterTheGrace()
    {
        TimeSpan grace = TimeSpan.FromMilliseconds(500);
        string channel = _runs.NewChannel();
        // Ignored signals stay ignored across exec: sleep itself ignores them, and only SIGKILL ends it.
        KazeProcess kaze = _runs.RunSh(channel, ["--grace", "500ms"], """
            trap '' TERM INT QUIT HUP
            echo "ready $$"
            exec sleep 60
            """);
        await _runs.WaitForReadyChildAsync(kaze, "the child to ignore every stop signal");

        var stopwatch = Stopwatch.StartNew();
        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAndOutputAsync("kaze to SIGKILL a child that ignores SIGTERM, after --grace 500ms", TimeSpan.FromSeconds(10));
        TimeSpan took = stopwatch.Elapsed;
        output.WriteLine($"SIGTERM to exit with a child that ignores it, --grace 500ms: {took.TotalMilliseconds:0} ms");

        Assert.True(code == 128 + Posix.SIGKILL, $"expected 137, got {code}\n{kaze.Describe()}");
        Assert.True(took >= grace - TimeSpan.FromMilliseconds(50), $"killed after {took.TotalMilliseconds:0} ms, before the {grace.TotalMilliseconds} ms grace period");
        Assert.True(took < TimeSpan.FromSeconds(5), $"took {took.TotalMilliseconds:0} ms to stop after a {grace.TotalMilliseconds} ms grace period");
        KazeRuns.AssertChannelGone(channel, "after the child was SIGKILLed at the end of the grace period");
    }

    [Fact]
    public async Task Run_GraceOverForAHostWithChildren_TheSigkillReachesTheChildrenToo()
    {
        string channel = _runs.NewChannel();
        // The shell's child ignores every stop signal too (inherited); only SIGKILL ends it, and it
        // would live on, reparented to init, if the SIGKILL reached the shell alone.
        KazeProcess kaze = _runs.RunSh(channel, ["--grace", "500ms"], """
            trap '' TERM INT QUIT HUP
            sleep 120 &
            echo "grandchild $!"
            echo "ready $$"
            wait
            """);
        await _runs.WaitForReadyChildAsync(kaze, "the shell to start its child");
        string line = await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("grandchild ", StringComparison.Ordinal), "the shell's child's pid");
        int grandchild = int.Parse(line["grandchild ".Length..], System.Globalization.CultureInfo.InvariantCulture);

        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAsync("kaze to SIGKILL the shell after --grace 500ms");

        Assert.True(code == 128 + Posix.SIGKILL, $"expected 137, got {code}\n{kaze.Describe()}");
        await Eventually.True(() => !Posix.IsRunning(grandchild), $"the shell's child (pid {grandchild}) to be gone after the grace period's SIGKILL", details: kaze.Describe);
        output.WriteLine($"the shell's child {grandchild} is gone after the grace SIGKILL");
        KazeRuns.AssertChannelGone(channel, "after the grace period's SIGKILL");
    }
}
