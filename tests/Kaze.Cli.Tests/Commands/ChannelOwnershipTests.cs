using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// Channel files belong to their owner: a file another real user (<see cref="SecondUser"/>) made
/// under a channel's name is never used, listed or removed by kaze, however convincing its header.
/// Serial: a `kaze run` removes stale files, whoever's test made them.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class ChannelOwnershipTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [SecondUserFact]
    public async Task Run_ChannelNameSquattedByAnotherUser_Exits73NamingTheOwnerAndLeavesTheFile()
    {
        string channel = _runs.NewChannel();
        string path = KazeRuns.ChannelPath(channel);
        // A live-looking sidecar: pid 1 is always alive.
        SecondUser.WriteChannelFile(path, sidecarPid: 1);

        KazeProcess kaze = _runs.Run(channel, [], "true");
        int code = await kaze.WaitForExitAndOutputAsync("kaze to refuse the other user's file");

        Assert.True(code == 73, $"expected 73 (channel cannot be created), got {code}\n{kaze.Describe()}");
        Assert.Contains(kaze.Stderr.Lines, l => l.Contains($"belongs to user {SecondUser.Name}", StringComparison.Ordinal) && l.Contains("never uses or removes another user's file", StringComparison.Ordinal));
        Assert.DoesNotContain(kaze.Stderr.Lines, l => l.Contains("in use by", StringComparison.Ordinal));
        Assert.True(File.Exists(path), "kaze removed another user's file");
    }

    [SecondUserFact]
    public async Task Status_AnotherUsersForgedChannel_IsNotListed()
    {
        string channel = _runs.NewChannel();
        SecondUser.WriteChannelFile(KazeRuns.ChannelPath(channel), sidecarPid: 1);

        KazeProcess status = _runs.Start(["status", "--json"]);
        int code = await status.WaitForExitAndOutputAsync("kaze status --json");

        Assert.True(code == 0, $"kaze status exited {code}\n{status.Describe()}");
        Assert.DoesNotContain(channel, status.Stdout.Text, StringComparison.Ordinal);
    }

    [SecondUserFact]
    public async Task Run_StaleFiles_OwnRemovedAnotherUsersLeft()
    {
        string theirs = _runs.NewChannel();
        string mine = _runs.NewChannel();
        int dead = DeadPid();
        SecondUser.WriteChannelFile(KazeRuns.ChannelPath(theirs), dead);
        // The same bytes, owned by this user: a stale file of a SIGKILLed sidecar of ours.
        File.WriteAllBytes(KazeRuns.ChannelPath(mine), File.ReadAllBytes(KazeRuns.ChannelPath(theirs)));

        KazeProcess kaze = _runs.Run(_runs.NewChannel(), [], "true");
        int code = await kaze.WaitForExitAndOutputAsync("kaze run -- true");

        Assert.True(code == 0, $"kaze run -- true exited {code}\n{kaze.Describe()}");
        Assert.False(File.Exists(KazeRuns.ChannelPath(mine)), "this user's stale channel file was not removed by the next kaze run");
        Assert.True(File.Exists(KazeRuns.ChannelPath(theirs)), "kaze removed another user's file");
    }

    /// <summary>A pid no process has now: one of a process that has exited and been reaped.</summary>
    private static int DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("/bin/true");
        process.WaitForExit();
        int pid = process.Id;
        Assert.False(Posix.IsRunning(pid), $"pid {pid} of an exited process is running");
        return pid;
    }
}
