using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>kaze exits with its host's exit code, and 128+N when signal N ended the host.</summary>
public sealed class RunCommandExitCodeTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("kill -TERM $$", 128 + Posix.SIGTERM)]
    [InlineData("kill -KILL $$", 128 + Posix.SIGKILL)]
    public async Task Run_ChildExits_KazeExitsWithTheChildsCode(string script, int expected)
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunSh(channel, [], script);

        int code = await kaze.WaitForExitAndOutputAsync($"kaze run -- sh -c '{script}' to exit");

        Assert.True(code == expected, $"expected exit code {expected}, got {code}\n{kaze.Describe()}");
        KazeRuns.AssertChannelGone(channel, $"after kaze exited with {code}");
    }
}
