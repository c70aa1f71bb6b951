using System.Text.Json;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>`kaze status` reads the channel files of the machine: a running channel as a table row and as JSON.</summary>
public sealed class StatusCommandTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Status_ChannelWithAnEchoHost_ListsItLiveInTheTableAndTheJson()
    {
        string channel = _runs.NewChannel();
        KazeProcess run = _runs.RunEcho(channel, ["--metrics", "off"], "serve");
        await run.Stdout.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), "Kaze.Echo serve to start and attach to its channel");

        (int tableCode, KazeProcess table) = await OperatorCommandRuns.RunAsync(_runs, "kaze status", "status");
        (int jsonCode, KazeProcess json) = await OperatorCommandRuns.RunAsync(_runs, "kaze status --json", "status", "--json");

        Assert.True(tableCode == 0, table.Describe());
        Assert.StartsWith("CHANNEL ", table.Stdout.Lines[0], StringComparison.Ordinal);
        string row = Assert.Single(table.Stdout.Lines, l => l.StartsWith(channel + " ", StringComparison.Ordinal));
        string[] words = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["live", run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "alive"], words[1..4]);
        Assert.Equal("alive", words[5]);
        Assert.Contains("of 1 MiB", row, StringComparison.Ordinal);

        Assert.True(jsonCode == 0, json.Describe());
        using JsonDocument document = JsonDocument.Parse(json.Stdout.Text);
        JsonElement entry = document.RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == channel);
        Assert.Equal(KazeRuns.ChannelPath(channel), entry.GetProperty("file").GetString());
        Assert.Equal("live", entry.GetProperty("state").GetString());
        Assert.Equal(run.Pid, entry.GetProperty("sidecarPid").GetInt32());
        Assert.True(entry.GetProperty("sidecarAlive").GetBoolean());
        Assert.True(entry.GetProperty("hostPid").GetInt32() > 0, "the Echo host has attached: its pid is in the file");
        Assert.True(entry.GetProperty("hostAlive").GetBoolean());
        Assert.False(entry.GetProperty("closed").GetBoolean());
        foreach (string ring in new[] { "sidecarToHost", "hostToSidecar" })
        {
            JsonElement fill = entry.GetProperty(ring);
            Assert.Equal(1 << 20, fill.GetProperty("capacityBytes").GetInt32());
            Assert.InRange(fill.GetProperty("usedBytes").GetInt64(), 0, 1 << 20);
            Assert.InRange(fill.GetProperty("percent").GetDouble(), 0, 100);
        }
    }

    [Fact]
    public async Task Status_UnknownArgument_Exits2()
    {
        (int code, KazeProcess status) = await OperatorCommandRuns.RunAsync(_runs, "kaze status with an extra argument", "status", "everything");

        Assert.True(code == 2, $"expected 2, got {code}\n{status.Describe()}");
        Assert.Contains("kaze status: unknown option or argument 'everything'", status.Stderr.Lines);
        Assert.Empty(status.Stdout.Lines);
    }
}

/// <summary>
/// A kaze that is SIGKILLed leaves its channel file; `kaze status` shows it stale. Serial: any
/// `kaze run` started meanwhile by another test would remove the stale file first.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class StatusCommandStaleTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Status_SidecarSigkilled_ShowsTheChannelStale()
    {
        string channel = _runs.NewChannel();
        KazeProcess killed = _runs.RunSh(channel, ["--metrics", "off"], """echo "ready $$"; exec sleep 60""");
        await _runs.WaitForReadyChildAsync(killed, "the host of the kaze to be killed to start");
        killed.Signal(Posix.SIGKILL);
        await killed.WaitForExitAsync("kaze to die of SIGKILL");

        (int jsonCode, KazeProcess json) = await OperatorCommandRuns.RunAsync(_runs, "kaze status --json", "status", "--json");
        (int tableCode, KazeProcess table) = await OperatorCommandRuns.RunAsync(_runs, "kaze status", "status");

        Assert.True(jsonCode == 0, json.Describe());
        using JsonDocument document = JsonDocument.Parse(json.Stdout.Text);
        JsonElement entry = document.RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == channel);
        Assert.Equal("stale", entry.GetProperty("state").GetString());
        Assert.Equal(killed.Pid, entry.GetProperty("sidecarPid").GetInt32());
        Assert.False(entry.GetProperty("sidecarAlive").GetBoolean());

        Assert.True(tableCode == 0, table.Describe());
        string row = Assert.Single(table.Stdout.Lines, l => l.StartsWith(channel + " ", StringComparison.Ordinal));
        Assert.Contains($" stale ", row, StringComparison.Ordinal);
        Assert.Contains($"{killed.Pid} dead", row, StringComparison.Ordinal);
        Assert.Contains(table.Stdout.Lines, l => l.Contains("stale: the sidecar is dead and left its file; the next `kaze run` removes it.", StringComparison.Ordinal));
    }
}
