using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>Each way `kaze run` can fail has its exit code and a message on stderr; stdout is the host's alone.</summary>
public sealed class RunCommandErrorTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_CommandNotFound_Exits127WithTheMessageOnStderr()
    {
        string channel = _runs.NewChannel();
        string command = "kaze-test-no-such-command-" + Guid.NewGuid().ToString("N");
        KazeProcess kaze = _runs.Run(channel, [], command);

        int code = await kaze.WaitForExitAndOutputAsync("kaze run with a command that does not exist");

        Assert.True(code == 127, $"expected 127, got {code}\n{kaze.Describe()}");
        Assert.Contains($"kaze: {command}: command not found", kaze.Stderr.Lines);
        Assert.Empty(kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after the host could not be started");
    }

    [Fact]
    public async Task Run_FileNotExecutable_Exits126WithTheMessageOnStderr()
    {
        string channel = _runs.NewChannel();
        string script = Path.Combine(_runs.Directory, "not-executable.sh");
        File.WriteAllText(script, "#!/bin/sh\necho ran\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        KazeProcess kaze = _runs.Run(channel, [], script);

        int code = await kaze.WaitForExitAndOutputAsync("kaze run with a file that is not executable");

        Assert.True(code == 126, $"expected 126, got {code}\n{kaze.Describe()}");
        Assert.Contains($"kaze: {script}: permission denied", kaze.Stderr.Lines);
        Assert.Empty(kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after the host could not be started");
    }

    [Fact]
    public async Task Run_BadIdent_Exits2NamingTheOption()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.Run(channel, ["--ident", "1.2.3"], "sh", "-c", "echo ran");

        int code = await kaze.WaitForExitAndOutputAsync("kaze run --ident 1.2.3 to refuse the ident");

        Assert.True(code == 2, $"expected 2, got {code}\n{kaze.Describe()}");
        string line = Assert.Single(kaze.Stderr.Lines);
        Assert.Contains("ident", line, StringComparison.Ordinal);
        Assert.Contains("'1.2.3'", line, StringComparison.Ordinal);
        Assert.Empty(kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after kaze refused its options (it should never have been created)");
    }

    [Fact]
    public async Task Run_ChannelInUseByALiveKaze_Exits73NamingThePathAndThePid()
    {
        string channel = _runs.NewChannel();
        string path = KazeRuns.ChannelPath(channel);
        KazeProcess owner = _runs.RunSh(channel, [], """echo "ready $$"; exec sleep 60""");
        await _runs.WaitForReadyChildAsync(owner, "the first kaze's child to start");

        KazeProcess second = _runs.Run(channel, [], "sh", "-c", "echo ran");
        int code = await second.WaitForExitAndOutputAsync("the second kaze on the same channel to give up");

        Assert.True(code == 73, $"expected 73, got {code}\n{second.Describe()}");
        Assert.True(
            second.Stderr.Lines.Any(l => l.Contains(path, StringComparison.Ordinal) && l.Contains($"pid {owner.Pid}", StringComparison.Ordinal)),
            $"no line names {path} and pid {owner.Pid}\n{second.Describe()}");
        // An expected failure is one line, not a logged exception.
        Assert.True(second.Stderr.Lines.Count == 1, $"expected the one-line message alone on stderr\n{second.Describe()}");
        Assert.Empty(second.Stdout.Lines);
        Assert.True(File.Exists(path), $"the second kaze must leave the first one's {path} alone");
        Assert.False(owner.HasExited, "the first kaze runs on");

        owner.Signal(Posix.SIGTERM);
        int ownerCode = await owner.WaitForExitAndOutputAsync("the first kaze to exit after SIGTERM");
        Assert.True(ownerCode == 128 + Posix.SIGTERM, $"expected 143 (sleep ends on the forwarded SIGTERM), got {ownerCode}\n{owner.Describe()}");
        KazeRuns.AssertChannelGone(channel, "after the first kaze exited");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_ConfigFileWithErrors_Exits2ListingEveryProblem(bool givenWithFlag)
    {
        const string Config = """
            {
              // Comments are allowed; four settings are wrong, and each must be reported.
              "ident": "x",
              "listen": "nope",
              "run": { "grace": "abc" },
              "channel": { "ringSize": "3" }
            }
            """;
        string file = givenWithFlag ? Path.Combine(_runs.Directory, "bad-kaze.json") : Path.Combine(_runs.Directory, "kaze.json");
        File.WriteAllText(file, Config);
        string channel = _runs.NewChannel();
        string[] options = givenWithFlag ? ["--config", file] : [];
        // Not _runs.Run: its --listen off would override the file's listen, which is one of the mistakes.
        KazeProcess kaze = _runs.Start(["run", "--channel", channel, .. options, "--", "sh", "-c", "echo ran"]);

        int code = await kaze.WaitForExitAndOutputAsync("kaze run with a bad configuration file to refuse it");

        Assert.True(code == 2, $"expected 2, got {code}\n{kaze.Describe()}");
        IReadOnlyList<string> errors = kaze.Stderr.Lines;
        foreach (string problem in new[] { "ident: 'x'", "listen: 'nope'", "run:grace: 'abc'", "channel:ringSize: 3" })
        {
            Assert.True(errors.Any(l => l.Contains(problem, StringComparison.Ordinal)), $"no line reports \"{problem}\"\n{kaze.Describe()}");
        }

        Assert.All(errors, l => Assert.Contains(file, l, StringComparison.Ordinal));
        Assert.Empty(kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after kaze refused its configuration");
    }

    [Fact]
    public async Task Run_LogLevelDebug_StdoutHoldsOnlyTheChildsOutput()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunSh(channel, ["--log-level", "debug"], "echo only-the-child; echo and-its-errors >&2");

        int code = await kaze.WaitForExitAndOutputAsync("kaze run --log-level debug to exit");

        Assert.True(code == 0, kaze.Describe());
        Assert.Equal(["only-the-child"], kaze.Stdout.Lines);
        Assert.Contains("and-its-errors", kaze.Stderr.Lines);
        Assert.Contains(kaze.Stderr.Lines, l => l.StartsWith("[kaze ", StringComparison.Ordinal));
        KazeRuns.AssertChannelGone(channel, "after kaze exited");
    }

    /// <summary>--log-level debug must reach the sidecar's own components (router, tracker, edge), not only kaze's supervisor.</summary>
    [Fact]
    public async Task Run_LogLevelDebug_SidecarDebugLinesReachStderr()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunEcho(channel, ["--log-level", "debug"], "call", "0.0.0.9", "1");

        int code = await kaze.WaitForExitAndOutputAsync("Kaze.Echo to call an unknown node once");

        Assert.True(code == 1, $"expected Kaze.Echo's 1 (the call failed), got {code}\n{kaze.Describe()}");
        // The router's SidecarLog.Unreachable, a Debug event: "No route to 0.0.0.9 (...) for echo; answered UNREACHABLE".
        Assert.True(
            kaze.Stderr.Lines.Any(l => l.Contains("DBG", StringComparison.Ordinal) && l.Contains("No route to 0.0.0.9", StringComparison.Ordinal)),
            $"no debug line from the router about 0.0.0.9\n{kaze.Describe()}");
        Assert.DoesNotContain(kaze.Stdout.Lines, l => l.StartsWith("[kaze ", StringComparison.Ordinal));
    }
}
