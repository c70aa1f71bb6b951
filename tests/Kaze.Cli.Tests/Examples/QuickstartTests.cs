using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Examples;

/// <summary>examples/Quickstart, the program src/Kaze.Host/README.md shows in full, runs under a real kaze run.</summary>
public sealed class QuickstartTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Quickstart_UnderKazeRun_CallsItselfAndExitsZero()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.Run(channel, [], TestPrograms.Dotnet, TestPrograms.Quickstart);

        int code = await kaze.WaitForExitAndOutputAsync("kaze run -- Kaze.Quickstart to exit");

        Assert.True(code == 0, $"expected exit code 0, got {code}\n{kaze.Describe()}");
        Assert.Contains("hello, world", kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after the quickstart exited");
    }

    [Fact]
    public async Task Quickstart_Serving_StopsGracefullyOnSigterm()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.Run(channel, [], TestPrograms.Dotnet, TestPrograms.Quickstart, "--serve");
        await kaze.Stdout.WaitForLineAsync(line => line == "hello, world", "the quickstart's own call to be answered");

        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAndOutputAsync("kaze run -- Kaze.Quickstart --serve to exit after SIGTERM");

        // kaze passes SIGTERM on, then sends kaze.exit: the quickstart ignores the signal and stops on the notify.
        Assert.True(code == 0, $"expected exit code 0, got {code}\n{kaze.Describe()}");
        KazeRuns.AssertChannelGone(channel, "after the quickstart exited");
    }
}
