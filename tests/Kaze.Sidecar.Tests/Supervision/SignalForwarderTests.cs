using System.Runtime.InteropServices;
using Kaze.Sidecar.Supervision;

namespace Kaze.Sidecar.Tests.Supervision;

/// <summary>The rule for keyboard signals; the forwarding itself is exercised end to end in <see cref="HostProcessSignalTests"/>.</summary>
public sealed class SignalForwarderTests
{
    private static readonly ProcStat ForegroundSelf = new(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: 100);
    private static readonly ProcStat ChildInOurGroup = new(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: 100);

    [Theory]
    [InlineData(PosixSignal.SIGINT)]
    [InlineData(PosixSignal.SIGQUIT)]
    public void WasDeliveredByTerminal_KeyboardSignalWhileBothInForegroundGroup_True(PosixSignal signal)
    {
        Assert.True(SignalForwarder.WasDeliveredByTerminal(signal, ForegroundSelf, ChildInOurGroup));
    }

    [Theory]
    [InlineData(PosixSignal.SIGTERM)]
    [InlineData(PosixSignal.SIGHUP)]
    public void WasDeliveredByTerminal_NonKeyboardSignal_False(PosixSignal signal)
    {
        Assert.False(SignalForwarder.WasDeliveredByTerminal(signal, ForegroundSelf, ChildInOurGroup));
    }

    [Fact]
    public void WasDeliveredByTerminal_NoControllingTerminal_False()
    {
        var self = new ProcStat(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: -1);
        var child = new ProcStat(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: -1);

        Assert.False(SignalForwarder.WasDeliveredByTerminal(PosixSignal.SIGINT, self, child));
    }

    [Fact]
    public void WasDeliveredByTerminal_WeAreABackgroundJob_False()
    {
        var self = new ProcStat(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: 95);
        var child = new ProcStat(ProcessGroup: 100, Session: 90, TerminalForegroundGroup: 95);

        Assert.False(SignalForwarder.WasDeliveredByTerminal(PosixSignal.SIGINT, self, child));
    }

    [Fact]
    public void WasDeliveredByTerminal_ChildInItsOwnGroup_False()
    {
        var child = new ProcStat(ProcessGroup: 120, Session: 90, TerminalForegroundGroup: 100);

        Assert.False(SignalForwarder.WasDeliveredByTerminal(PosixSignal.SIGINT, ForegroundSelf, child));
    }

    [Theory]
    [InlineData(PosixSignal.SIGHUP, 1)]
    [InlineData(PosixSignal.SIGINT, 2)]
    [InlineData(PosixSignal.SIGQUIT, 3)]
    [InlineData(PosixSignal.SIGTERM, 15)]
    [InlineData((PosixSignal)10, 10)]
    public void ToNumber_LinuxSignalNumbers(PosixSignal signal, int expected)
    {
        Assert.Equal(expected, SignalForwarder.ToNumber(signal));
    }
}
