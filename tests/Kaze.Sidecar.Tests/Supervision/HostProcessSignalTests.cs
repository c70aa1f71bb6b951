using System.Diagnostics;
using System.Runtime.InteropServices;
using Kaze.Sidecar.Supervision;
using Kaze.Sidecar.Supervision.Native;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Supervision;

public sealed class HostProcessSignalTests
{
    // sh runs a trap only between commands, so the loop sleeps in short steps.
    private const string TrapLoop = "while :; do sleep 0.05; done";

    // Log event ids of the supervisor (Kaze.Sidecar.Supervision.Log).
    private const int SignalForwardedEvent = 102;
    private const int SignalLeftToTerminalEvent = 103;

    [Fact]
    public async Task ForwardSignal_Term_ChildTrapRuns()
    {
        using var dir = new TempDirectory();
        string ready = dir.File("ready");
        using HostProcess host = Sh.Start($"trap 'exit 7' TERM; touch \"$READY\"; {TrapLoop}", new Dictionary<string, string?> { ["READY"] = ready });
        await ReadyFile.Appears(ready, "sh to install its TERM trap", host.Exited);

        SignalForwardOutcome outcome = host.ForwardSignal(PosixSignal.SIGTERM);

        Assert.Equal(SignalForwardOutcome.Sent, outcome);
        Assert.Equal(7, await host.Exited.Within("sh to run its TERM trap and exit 7"));
    }

    [Fact]
    public async Task ForwardSignal_ChildWithoutTrap_DiesOfIt()
    {
        using HostProcess host = Sh.Start(TrapLoop);

        Assert.Equal(SignalForwardOutcome.Sent, host.ForwardSignal(PosixSignal.SIGHUP));

        Assert.Equal(129, await host.Exited.Within("sh to die of the forwarded SIGHUP"));
    }

    [Fact]
    public async Task ForwardSignal_ChildExited_ChildGone()
    {
        using HostProcess host = Sh.Start("exit 0");
        await host.Exited.Within("sh to exit");

        Assert.Equal(SignalForwardOutcome.ChildGone, host.ForwardSignal(PosixSignal.SIGTERM));
    }

    [Fact]
    public async Task ChildSignaller_ChildReaped_SendsNothing()
    {
        using var process = Process.Start("sleep", "30");
        using var signaller = new ChildSignaller(process);
        Assert.True(signaller.UsesPidFd, "pidfd_open is available on Linux 5.3 and later");

        Assert.True(signaller.Send(0));
        process.Kill();
        await process.WaitForExitAsync().Within("sleep to be killed and reaped");

        // Reaped, so the pid is free for reuse: a pidfd still names the dead process.
        Assert.False(signaller.Send(0));
    }

    [Theory]
    [InlineData("TERM", 15, 7)]
    [InlineData("INT", 2, 5)]
    [InlineData("HUP", 1, 6)]
    [InlineData("QUIT", 3, 8)]
    public async Task Supervisor_ReceivesSignal_ForwardsItAndExitsWithChildsCode(string name, int signal, int childExitCode)
    {
        using var dir = new TempDirectory();
        string ready = dir.File("ready");
        using Supervisor supervisor = Supervisor.StartDetached(
            ["sh", "-c", $"trap 'exit {childExitCode}' {name}; touch \"$READY\"; {TrapLoop}"],
            new Dictionary<string, string> { ["READY"] = ready });
        int pid = await supervisor.ReadPidAsync();
        await ReadyFile.Appears(ready, $"the supervised sh to install its {name} trap");

        Assert.Equal(0, LibC.Kill(pid, signal));

        // Not 128+signal: the supervisor did not die of the signal, it passed it on and exited with the child.
        Assert.Equal(childExitCode, await supervisor.WaitForExitAsync($"the supervisor to exit after forwarding SIG{name}"));
        Assert.True(supervisor.HasEvent(SignalForwardedEvent), string.Join('\n', supervisor.Lines));
    }

    [Fact]
    public async Task Supervisor_CtrlCOnItsTerminal_LeavesSigintToTheTerminal()
    {
        using var dir = new TempDirectory();
        string ready = dir.File("ready");
        string gotInt = dir.File("got-int");
        using Supervisor supervisor = Supervisor.StartOnTerminal(
            $"trap 'echo int >> \"$GOT_INT\"' INT; touch \"$READY\"; {TrapLoop}",
            new Dictionary<string, string> { ["READY"] = ready, ["GOT_INT"] = gotInt });
        int pid = await supervisor.ReadPidAsync();
        await ReadyFile.Appears(ready, "the supervised sh to install its INT trap");

        supervisor.Type("\u0003"); // Ctrl-C: the terminal sends SIGINT to its whole foreground process group

        await ReadyFile.Appears(gotInt, "the supervised sh to get SIGINT from the terminal");
        await supervisor.WaitForLineAsync(
            l => l.Contains($"kaze-event {SignalLeftToTerminalEvent} ", StringComparison.Ordinal) || l.Contains($"kaze-event {SignalForwardedEvent} ", StringComparison.Ordinal),
            "the supervisor to decide what to do with SIGINT");
        Assert.True(supervisor.HasEvent(SignalLeftToTerminalEvent), string.Join('\n', supervisor.Lines));
        Assert.False(supervisor.HasEvent(SignalForwardedEvent), string.Join('\n', supervisor.Lines));

        // The supervisor survived its own SIGINT; SIGTERM (no trap) ends the child, and so the supervisor.
        Assert.Equal(0, LibC.Kill(pid, 15));
        Assert.Equal(143, await supervisor.WaitForExitAsync("the supervisor to exit after forwarding SIGTERM"));
    }

    [Fact]
    public async Task Supervisor_CommandNotFound_Exits127WithMessage()
    {
        using Supervisor supervisor = Supervisor.StartDetached(["kaze-no-such-command-7f3a", "arg"], new Dictionary<string, string>());

        Assert.Equal(127, await supervisor.WaitForExitAsync("the supervisor to give up on a missing command"));
        await supervisor.WaitForLineAsync(l => l == "kaze: kaze-no-such-command-7f3a: command not found", "the command-not-found message");
    }
}
