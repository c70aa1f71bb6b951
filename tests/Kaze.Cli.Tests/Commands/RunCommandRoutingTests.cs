using System.Globalization;
using System.Text.RegularExpressions;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// Packets through a real sidecar: a host calls itself, an unknown node is answered UNREACHABLE
/// at once, a request nobody answers is answered TIMEOUT once. Serial: these measure time, and the
/// latencies Kaze.Echo prints are only worth reading on an otherwise idle machine.
/// </summary>
[Collection(SerialTests.Name)]
public sealed partial class RunCommandRoutingTests(ITestOutputHelper output) : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public async Task Run_EchoCallsItself_EveryCallSucceeds(int pipeline)
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunEcho(channel, ["--ident", "0.0.0.1"], "call", "0.0.0.1", "1000", "--pipeline", pipeline.ToString(CultureInfo.InvariantCulture));

        int code = await kaze.WaitForExitAndOutputAsync($"Kaze.Echo to call itself 1000 times, {pipeline} in flight");

        Assert.True(code == 0, $"expected 0, got {code}\n{kaze.Describe()}");
        Assert.Contains(kaze.Stdout.Lines, l => l.StartsWith("1000 calls to 0.0.0.1, ", StringComparison.Ordinal) && l.Contains(": 1000 ok in ", StringComparison.Ordinal));
        Assert.Contains(kaze.Stdout.Lines, l => l.StartsWith("latency µs: p50 ", StringComparison.Ordinal));
        foreach (string line in kaze.Stdout.Lines)
        {
            output.WriteLine(line);
        }

        KazeRuns.AssertChannelGone(channel, "after Kaze.Echo call exited");
    }

    [Fact]
    public async Task Run_EchoCallsAnUnknownIdent_GetsUnreachableWellBeforeTheTimeout()
    {
        const double CallTimeoutSeconds = 10;
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunEcho(channel, ["--ident", "0.0.0.1"], "call", "0.0.0.9", "3", "--timeout", "10000");

        int code = await kaze.WaitForExitAndOutputAsync("Kaze.Echo to call an unknown node 3 times", TimeSpan.FromSeconds(3 * CallTimeoutSeconds + 10));

        Assert.True(code == 1, $"expected Kaze.Echo's 1 (calls failed), got {code}\n{kaze.Describe()}");
        Assert.Contains("Kaze.Echo: 3 of 3 calls failed: 3 Unreachable", kaze.Stderr.Lines);
        string summary = Assert.Single(kaze.Stdout.Lines, l => l.StartsWith("3 calls to 0.0.0.9", StringComparison.Ordinal));
        double seconds = double.Parse(CallsTook().Match(summary).Groups[1].Value, CultureInfo.InvariantCulture);
        output.WriteLine($"3 calls to an unknown node answered UNREACHABLE in {seconds * 1000:0} ms in all");
        Assert.True(seconds < 2, $"3 UNREACHABLE answers took {seconds} s: not 'at once' (the call timeout is {CallTimeoutSeconds} s)");
        KazeRuns.AssertChannelGone(channel, "after Kaze.Echo call exited");
    }

    /// <summary>The Kaze.Host client: the call ends with Timeout at its timeout, whoever answered first (the sidecar's tracker or the client's own timer).</summary>
    [Fact]
    public async Task Run_HandlerNeverAnswers_CallerGetsTimeoutAtTheTimeout()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, [], "hang", "300");

        int code = await kaze.WaitForExitAndOutputAsync("Kaze.TestHost hang to call its handler that never answers");

        Assert.True(code == 0, $"expected 0, got {code}\n{kaze.Describe()}");
        string hang = Assert.Single(kaze.Stdout.Lines, l => l.StartsWith("hang ", StringComparison.Ordinal));
        Assert.Equal("Timeout", Fields.Get(hang, "code"));
        double elapsed = Fields.Number(hang, "elapsed_ms");
        output.WriteLine(hang);
        // Environment.TickCount64 (the client's clock) moves in steps of a few ms on Linux.
        Assert.InRange(elapsed, 280, 1500);
        Assert.Contains("ping code=Ok", kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after Kaze.TestHost exited");
    }

    /// <summary>
    /// The sidecar on its own, with no client timer: a request to the host itself, left unanswered,
    /// gets exactly one TIMEOUT from the sidecar's tracker at about its timeout, and the host's answer
    /// sent after that is dropped, not delivered as a second answer.
    /// </summary>
    [Fact]
    public async Task Run_HostAnswersAfterTheTimeout_SidecarAnswersTimeoutOnceAndDropsTheLateAnswer()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, ["--ident", "0.0.0.3"], "raw-timeout", "300");

        int code = await kaze.WaitForExitAndOutputAsync("Kaze.TestHost raw-timeout to get the sidecar's TIMEOUT and its fence response");

        Assert.True(code == 0, $"expected 0, got {code}\n{kaze.Describe()}");
        string answer = Assert.Single(kaze.Stdout.Lines, l => l.StartsWith("timeout-answer ", StringComparison.Ordinal));
        output.WriteLine(answer);
        Assert.Equal("Timeout", Fields.Get(answer, "code"));
        Assert.Equal("0.0.0.3", Fields.Get(answer, "src"));
        double sentToAnswer = Fields.Number(answer, "elapsed_ms");
        double sentToRequestBack = Fields.Number(answer, "request-seen-ms");
        // The tracker starts the clock when the request passes it: after the host sent it, before it
        // came back to the host. It scans every 5 ms; the rest of the slack is for a loaded machine.
        Assert.True(sentToAnswer >= 295, $"TIMEOUT {sentToAnswer} ms after the send, before the 300 ms timeout");
        Assert.True(sentToAnswer <= sentToRequestBack + 300 + 500, $"TIMEOUT {sentToAnswer} ms after the send, but the request was through the sidecar within {sentToRequestBack} ms");
        Assert.Contains("answers-to-1 count=1 codes=Timeout", kaze.Stdout.Lines);
        Assert.Contains("fence code=Ok", kaze.Stdout.Lines);
        KazeRuns.AssertChannelGone(channel, "after Kaze.TestHost exited");
    }

    [GeneratedRegex(@": \d+ ok in ([0-9.]+) s")]
    private static partial Regex CallsTook();
}

/// <summary>Malformed packets from the host are dropped with a log line naming the reason; the channel keeps working.</summary>
public sealed class RunCommandMalformedPacketTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_HostWritesMalformedPackets_DropsThemAndStillAnswersTheValidRequest()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, ["--log-level", "warn"], "garbage");

        int code = await kaze.WaitForExitAndOutputAsync("Kaze.TestHost garbage to get the answer to its valid request");

        Assert.True(code == 0, $"expected 0, got {code}\n{kaze.Describe()}");
        Assert.Contains("valid-request answered=true code=Ok", kaze.Stdout.Lines);
        string[] dropped = [.. kaze.Stderr.Lines.Where(l => l.Contains("Dropped a malformed packet from the host", StringComparison.Ordinal))];
        Assert.True(dropped.Length == 4, $"expected 4 lines about malformed packets\n{kaze.Describe()}");
        Assert.Contains("(64 bytes): the header length is larger than the rest of the frame", dropped[0], StringComparison.Ordinal);
        Assert.Contains("(20 bytes): the header length is larger than the rest of the frame", dropped[1], StringComparison.Ordinal);
        Assert.Contains("(3 bytes): the data ends before the lengths it declares", dropped[2], StringComparison.Ordinal);
        Assert.Contains("(8 bytes): the header is not a valid protobuf kaze.Hdr", dropped[3], StringComparison.Ordinal);
        KazeRuns.AssertChannelGone(channel, "after Kaze.TestHost exited");
    }
}
