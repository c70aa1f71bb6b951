using System.Diagnostics;
using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;

namespace Kaze.Mesh.Tests;

/// <summary>
/// What a hostile peer (tests/Kaze.MeshAttacker, a process of its own) can make a corral hold is
/// bounded: each test proves one bound, its counter and its rate-limited log, and that A and B's
/// traffic goes on meanwhile.
/// </summary>
public sealed class PeerCorralBoundsTests
{
    [Fact]
    public async Task Accept_PastMaxConnections_RefusedAtAcceptCountedAndLoggedAtABoundedRate()
    {
        await using var mesh = await CorralPair.StartAsync(o => o.MaxConnections = 10);
        var clock = Stopwatch.StartNew();
        using Attacker attacker = Attacker.Start(mesh.A.EndPoint, "hold", 300, 0x0A000001);
        string[] ready = await attacker.ReadLineAsync("the attacker's 300 connections");
        double seconds = clock.Elapsed.TotalSeconds;

        // A holds B's connection: 9 more at most.
        Assert.Equal("ready", ready[0]);
        Assert.True(int.Parse(ready[1]) <= 9, $"{ready[1]} connections open past the cap. {mesh.A.Describe()}");
        Assert.Equal(300, int.Parse(ready[1]) + int.Parse(ready[2]));
        Assert.True(mesh.A.Counters[ConnectionFailure.ConnectionLimit] >= 291, mesh.A.Describe());
        int lines = mesh.A.Logs.Lines.Count(l => l.Contains("connection_limit", StringComparison.Ordinal));
        Assert.True(lines >= 1 && lines <= 5 * (Math.Ceiling(seconds) + 1), $"{lines} log lines for {mesh.A.Counters[ConnectionFailure.ConnectionLimit]} refusals in {seconds:0.0} s:\n{mesh.A.Logs.Dump()}");
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Accept_PastMaxHandshaking_RefusedAtAcceptAndCounted()
    {
        await using var mesh = await CorralPair.StartAsync(o =>
        {
            o.MaxHandshaking = 4;
            o.HandshakeTimeout = TimeSpan.FromSeconds(60);
        });
        using Attacker attacker = Attacker.Start(mesh.A.EndPoint, "silent", 20);
        string[] ready = await attacker.ReadLineAsync("the attacker's 20 silent connections");

        Assert.Equal(["ready", "4", "16"], ready);
        Assert.Equal(16, mesh.A.Counters[ConnectionFailure.HandshakeLimit]);
        Assert.Equal(4, mesh.A.Counters.ConnectionsHandshaking);
        Assert.True(mesh.A.Logs.Contains("handshake_limit", "corral:maxHandshaking"), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Reader_TricklingFrame_ClosedAfterFrameTimeoutAsSlowFrame()
    {
        await using var mesh = await CorralPair.StartAsync(o => o.FrameTimeout = TimeSpan.FromSeconds(1));
        using Attacker attacker = Attacker.Start(mesh.A.EndPoint, "trickle", 100, 0x0A000001);

        // One byte every 100 ms: the idle timeout (60 s) never comes; the frame timeout does.
        string[] closed = await attacker.ReadLineAsync("the trickling connection to be closed");
        Assert.Equal("closed", closed[0]);
        long ms = long.Parse(closed[1]);
        Assert.True(ms is >= 900 and < 10_000, $"closed after {ms} ms. {mesh.A.Describe()}");
        Assert.Equal(1, mesh.A.Counters[ConnectionFailure.SlowFrame]);
        Assert.True(mesh.A.Logs.Contains("slow_frame", "ident 10.0.0.1", "corral:frameTimeout"), mesh.A.Logs.Dump());
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Handshake_LargeFrameBeforeHello_ClosedAsFrameTooLarge()
    {
        await using var mesh = await CorralPair.StartAsync();
        using Attacker attacker = Attacker.Start(mesh.A.EndPoint, "early", 1024 * 1024);

        string[] closed = await attacker.ReadLineAsync("the connection with the early large frame to be closed");
        Assert.Equal("closed", closed[0]);
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.FrameTooLarge] == 1, "frame_too_large counted", details: mesh.A.Describe);
        Assert.True(mesh.A.Logs.Contains("frame_too_large", "during the handshake"), mesh.A.Logs.Dump());
        Assert.Equal(0, mesh.A.Corral.ReceiveBudget.Used);
        await mesh.AssertTrafficFlowsAsync();
    }

    [Fact]
    public async Task Reader_ManyLargeFramesStalled_HeldWithinTheReceiveBudgetAndGivenBack()
    {
        const int Mib = 1024 * 1024;
        await using var mesh = await CorralPair.StartAsync(o =>
        {
            o.ReceiveBudget = 8 * Mib;
            o.FrameTimeout = TimeSpan.FromSeconds(2);
        });

        // 12 connections announce a frame of 2 MiB (a 2 MiB buffer each) and send 1.5 MiB of it.
        using Attacker attacker = Attacker.Start(mesh.A.EndPoint, "bigframe", 12, 2 * Mib - 4, 3 * Mib / 2, 0x0A000001);
        string[] sent = await attacker.ReadLineAsync("the attacker's large frames");
        Assert.Equal("sent", sent[0]);

        // At most 4 fit in the budget: the others are closed as they need more.
        await Eventually.True(() => mesh.A.Counters[ConnectionFailure.ReceiveBudget] >= 8, "receive_budget counted for the frames past the budget", details: mesh.A.Describe);
        Assert.True(mesh.A.Corral.ReceiveBudget.Used <= 8 * Mib, mesh.A.Describe());
        await mesh.AssertTrafficFlowsAsync();

        // The stalled frames end at the frame timeout, and their buffers go back, while the attacker still holds its sockets.
        await Eventually.True(() => mesh.A.Corral.ReceiveBudget.Used == 0, "every large buffer given back", details: mesh.A.Describe);
        Assert.True(mesh.A.Counters[ConnectionFailure.SlowFrame] >= 1, mesh.A.Describe());
        await mesh.AssertTrafficFlowsAsync();
    }
}
