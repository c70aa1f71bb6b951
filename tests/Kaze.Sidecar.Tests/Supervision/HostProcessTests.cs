using Kaze.Sidecar.Supervision;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Supervision;

public sealed class HostProcessTests
{
    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("exit 255", 255)]
    public async Task Exited_ChildExitsWithCode_ReturnsThatCode(string script, int expected)
    {
        using HostProcess host = Sh.Start(script);

        int exitCode = await host.Exited.Within($"sh -c '{script}' to exit");

        Assert.Equal(expected, exitCode);
        Assert.True(host.HasExited);
    }

    [Theory]
    [InlineData("true", 0)]
    [InlineData("false", 1)]
    public async Task Start_CommandFromPath_RunsIt(string command, int expected)
    {
        using HostProcess host = Sh.StartOrFail(new HostProcessOptions { Command = command, ForwardSignals = false });

        int exitCode = await host.Exited.Within($"{command} to exit");

        Assert.Equal(expected, exitCode);
        Assert.StartsWith("/", host.ExecutablePath, StringComparison.Ordinal);
        Assert.EndsWith("/" + command, host.ExecutablePath, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("KILL", 137)]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    [InlineData("HUP", 129)]
    public async Task Exited_ChildKilledBySignal_Returns128PlusSignal(string signal, int expected)
    {
        using HostProcess host = Sh.Start($"kill -{signal} $$");

        int exitCode = await host.Exited.Within($"sh to die of SIG{signal}");

        Assert.Equal(expected, exitCode);
    }

    [Fact]
    public async Task Start_ExtraEnvironment_ReachesChild()
    {
        var environment = new Dictionary<string, string?>
        {
            ["KAZE_X"] = "y",
            ["KAZE_CHANNEL"] = "kaze-test-channel",
            ["KAZE_SIDECAR_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        using HostProcess host = Sh.Start(
            """test "$KAZE_X" = y && test "$KAZE_CHANNEL" = kaze-test-channel && test "$KAZE_SIDECAR_PID" = "$PPID" && test -n "$PATH" """,
            environment);

        int exitCode = await host.Exited.Within("the environment check in sh");

        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Start_NullEnvironmentValue_RemovesInheritedVariable()
    {
        string name = "KAZE_TEST_REMOVE_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "inherited");
        try
        {
            using HostProcess host = Sh.Start($"test -z \"${{{name}+set}}\"", new Dictionary<string, string?> { [name] = null });

            int exitCode = await host.Exited.Within("the unset-variable check in sh");

            Assert.Equal(0, exitCode);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public async Task Pid_IsTheChildsProcessId()
    {
        using var dir = new TempDirectory();
        string pidFile = dir.File("pid");
        using HostProcess host = Sh.Start("echo $$ > \"$PID_FILE\"", new Dictionary<string, string?> { ["PID_FILE"] = pidFile });

        await host.Exited.Within("sh to write its pid");

        Assert.Equal(host.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(pidFile).Trim());
    }

    [Fact]
    public async Task Start_WorkingDirectory_IsTheChildsCurrentDirectory()
    {
        using var dir = new TempDirectory();
        using HostProcess host = Sh.StartOrFail(new HostProcessOptions
        {
            Command = "sh",
            Arguments = ["-c", "pwd > cwd"],
            WorkingDirectory = dir.Path,
            ForwardSignals = false,
        });

        await host.Exited.Within("sh to write its working directory");

        Assert.Equal(dir.Path, File.ReadAllText(dir.File("cwd")).Trim());
    }

    [Fact]
    public async Task Start_ArgumentsWithSpacesAndQuotes_PassedUntouched()
    {
        using var dir = new TempDirectory();
        using HostProcess host = Sh.StartOrFail(new HostProcessOptions
        {
            Command = "sh",
            Arguments = ["-c", "printf '%s|' \"$@\" > \"$0\"", dir.File("args"), "a b", "'q'", "\"d\"", "", "$HOME"],
            ForwardSignals = false,
        });

        await host.Exited.Within("sh to write its arguments");

        Assert.Equal("a b|'q'|\"d\"||$HOME|", File.ReadAllText(dir.File("args")));
    }

    [Fact]
    public async Task WaitForExitAsync_Cancelled_ThrowsAndLeavesChildRunning()
    {
        using HostProcess host = Sh.Start("while :; do sleep 0.05; done");
        using var cts = new CancellationTokenSource();
        Task<int> wait = host.WaitForExitAsync(cts.Token);

        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.Within("the cancelled wait to end"));
        Assert.False(host.HasExited);
    }

    [Fact]
    public async Task WaitForExitAsync_ChildExits_ReturnsExitCode()
    {
        using HostProcess host = Sh.Start("exit 9");

        int exitCode = await host.WaitForExitAsync().Within("WaitForExitAsync to return");

        Assert.Equal(9, exitCode);
    }

    [Fact]
    public async Task Dispose_ChildStillRunning_KillsIt()
    {
        HostProcess host = Sh.Start("trap '' TERM INT HUP; while :; do sleep 0.05; done");
        Task<int> exited = host.Exited;

        host.Dispose();

        Assert.Equal(137, await exited.Within("the disposed supervisor's child to be killed"));
    }

    [Fact]
    public async Task Dispose_ChildAlreadyExited_KeepsExitCode()
    {
        HostProcess host = Sh.Start("exit 6");
        await host.Exited.Within("sh to exit");

        host.Dispose();
        host.Dispose();

        Assert.Equal(6, await host.Exited);
    }

    [Fact]
    public void Start_InvalidOptions_ThrowsListingEveryProblem()
    {
        var options = new HostProcessOptions
        {
            Command = "",
            Environment = new Dictionary<string, string?> { ["A=B"] = "x" },
            WorkingDirectory = "/nonexistent/kaze-test",
            ForwardSignals = false,
        };

        ArgumentException e = Assert.Throws<ArgumentException>(() => HostProcess.Start(options));

        Assert.Contains("Command is empty", e.Message, StringComparison.Ordinal);
        Assert.Contains("'A=B'", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/kaze-test", e.Message, StringComparison.Ordinal);
    }
}
