using System.Diagnostics;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Commands;

/// <summary>How long `kaze run` takes around a host that does nothing: the price of a sidecar at start.</summary>
[Collection(SerialTests.Name)]
public sealed class RunCommandStartupTests(ITestOutputHelper output) : IDisposable
{
    private const int Runs = 10;

    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_TrueAsTheHost_CompletesWithinSeconds()
    {
        var times = new List<TimeSpan>(Runs);
        for (int i = 0; i < Runs; i++)
        {
            string channel = _runs.NewChannel();
            var stopwatch = Stopwatch.StartNew();
            KazeProcess kaze = _runs.Run(channel, [], "true");
            int code = await kaze.WaitForExitAndOutputAsync($"kaze run --listen off --metrics off -- true (run {i + 1} of {Runs})");
            times.Add(stopwatch.Elapsed);

            Assert.True(code == 0, kaze.Describe());
            KazeRuns.AssertChannelGone(channel, $"after run {i + 1}");
        }

        TimeSpan[] sorted = [.. times.Order()];
        TimeSpan median = (sorted[(Runs - 1) / 2] + sorted[Runs / 2]) / 2;
        output.WriteLine($"kaze run --listen off --metrics off -- true, {Runs} runs: median {median.TotalMilliseconds:0} ms, min {sorted[0].TotalMilliseconds:0} ms, max {sorted[^1].TotalMilliseconds:0} ms");
        // A sanity bound, not a benchmark: the machine is shared.
        Assert.All(times, t => Assert.True(t < TimeSpan.FromSeconds(5), $"a run took {t.TotalMilliseconds:0} ms"));
    }
}
