using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>`kaze run` gives its host KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID, and the channel exists by then.</summary>
public sealed class RunCommandEnvironmentTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_ShChild_SeesChannelIdentAndSidecarPidWithTheChannelFilePresent()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunSh(channel, ["--ident", "0.0.0.42"], """
            echo "channel=$KAZE_CHANNEL"
            echo "ident=$KAZE_IDENT"
            echo "sidecar=$KAZE_SIDECAR_PID"
            if [ -f "/dev/shm/kaze-$KAZE_CHANNEL" ]; then echo "file=present"; else echo "file=missing"; fi
            """);

        int code = await kaze.WaitForExitAndOutputAsync("kaze run with a child that prints its environment");

        Assert.True(code == 0, kaze.Describe());
        Assert.Equal([$"channel={channel}", "ident=0.0.0.42", $"sidecar={kaze.Pid}", "file=present"], kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after kaze exited");
    }

    [Fact]
    public async Task Run_SpinSettingNotANumber_WarnsOnceAndRunsTheHostWithIt()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.Start(
            ["run", "--listen", "off", "--metrics", "off", "--channel", channel, "--", "sh", "-c", "echo \"spin=$KAZE_SPIN_MAX_US\""],
            new Dictionary<string, string> { ["KAZE_SPIN_MAX_US"] = "lots" });

        int code = await kaze.WaitForExitAndOutputAsync("kaze run with KAZE_SPIN_MAX_US=lots");

        Assert.True(code == 0, kaze.Describe());
        Assert.Equal(["spin=lots"], kaze.Stdout.Lines);
        // kaze runs on the CPUs this test may use: with one, polls do not spin at all.
        string longest = Environment.ProcessorCount > 1 ? "300 µs" : "0 µs";
        Assert.Single(kaze.Stderr.Lines, l => l.Contains("KAZE_SPIN_MAX_US=lots is not a number", StringComparison.Ordinal) && l.Contains(longest, StringComparison.Ordinal));
    }
}
