using System.Runtime.InteropServices;
using Kaze.Sidecar.Supervision;

namespace Kaze.Sidecar.Tests.Supervision;

public sealed class ProcStatTests
{
    [Fact]
    public void TryParse_CommandNameWithSpacesAndParentheses_CountsFieldsFromLastParenthesis()
    {
        const string text = "4242 (a) b (c) d) S 1 4240 4200 34816 4240 4194304 100 0 0 0";

        Assert.True(ProcStat.TryParse(text, out ProcStat stat));

        Assert.Equal(new ProcStat(ProcessGroup: 4240, Session: 4200, TerminalForegroundGroup: 4240), stat);
        Assert.True(stat.IsInTerminalForeground);
    }

    [Fact]
    public void TryParse_NoControllingTerminal_NotInTerminalForeground()
    {
        const string text = "3430 (cat) R 3424 3424 2502 0 -1 4194304 100 0 0 0";

        Assert.True(ProcStat.TryParse(text, out ProcStat stat));

        Assert.Equal(-1, stat.TerminalForegroundGroup);
        Assert.False(stat.IsInTerminalForeground);
    }

    [Theory]
    [InlineData("")]
    [InlineData("12 cat R 1 2 3 4 5")]
    [InlineData("12 (cat) R 1")]
    [InlineData("12 (cat) R 1 x 3 4 5")]
    public void TryParse_Malformed_ReturnsFalse(string text)
    {
        Assert.False(ProcStat.TryParse(text, out _));
    }

    [Fact]
    public void TryRead_CurrentProcess_MatchesItsOwnGroup()
    {
        Assert.True(ProcStat.TryRead(Environment.ProcessId, out ProcStat stat));

        // Inside a container the group or session leader may live outside our pid namespace,
        // where the kernel reports 0: compare with what the kernel tells us directly.
        Assert.Equal(getpgid(0), stat.ProcessGroup);
        Assert.Equal(getsid(0), stat.Session);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getpgid(int pid);

    [DllImport("libc", SetLastError = true)]
    private static extern int getsid(int pid);
}
