using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// A sidecar SIGKILLed mid-traffic (with its host): the others' calls to it end UNREACHABLE or
/// TIMEOUT within their timeout, nothing hangs, the other pair goes on; restarted on the same
/// port, it is reached again without anyone's help, within the corral's reconnect backoff.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class MeshPeerLossTests(ITestOutputHelper output) : IDisposable
{
    // Short, so that calls in flight when the peer dies end soon.
    private const int CallTimeoutMs = 500;

    // Each call ends by its timeout; the rest is for a loaded machine (the client's and the tracker's timers both tick in ms).
    private const double LongestCallMs = CallTimeoutMs + 1500;

    // The corral's backoff between dials doubles up to 10 s (±20 %, capped); then the restarted kaze needs its start-up.
    private static readonly TimeSpan ResumeTimeout = TimeSpan.FromSeconds(10 + 15);

    private static readonly HashSet<string> FailureCodes = ["Unreachable", "Timeout"];

    private readonly LoopbackMesh _mesh = new(output.WriteLine);

    public void Dispose() => _mesh.Dispose();

    [Fact]
    public async Task SidecarKilledMidTraffic_OthersFailFastAndKeepTheirPair_ThenReachItAgainAfterRestart()
    {
        await _mesh.StartAsync(LoopbackMesh.ThreeNodes());
        await _mesh.WarmUpAsync();
        MeshNode one = _mesh["0.0.1.1"];
        MeshNode two = _mesh["0.0.1.2"];
        MeshNode three = _mesh["0.0.1.3"];
        (MeshNode From, string Name)[] toThree = [(one, "1to3"), (two, "2to3")];
        foreach ((MeshNode from, string name) in toThree)
        {
            await from.StartTrafficAsync(name, three.Route, CallTimeoutMs, intervalMs: 2);
        }

        await one.StartTrafficAsync("1to2", two.Route, CallTimeoutMs, intervalMs: 2);
        foreach ((MeshNode from, string name) in toThree.Append((one, "1to2")))
        {
            await Eventually.UntilAsync(() => from.TrafficAsync(name), t => t.Ok >= 20, $"traffic {name} to flow before the kill", TimeSpan.FromSeconds(10));
        }

        // Phase 1: 0.0.1.3 dies.
        var clock = Stopwatch.StartNew();
        await _mesh.KillAsync(three);
        output.WriteLine($"0.0.1.3 and its host killed in {clock.ElapsedMilliseconds} ms");
        var okAtDeath = new Dictionary<string, int>();
        foreach ((MeshNode from, string name) in toThree)
        {
            CallSummary failing = await Eventually.UntilAsync(() => from.TrafficAsync(name), t => t.Failed >= 10, $"{from}'s calls to the killed 0.0.1.3 to fail", TimeSpan.FromSeconds(10));
            output.WriteLine($"{name} failing {clock.ElapsedMilliseconds} ms after the kill: {failing}");
            okAtDeath[name] = failing.Ok;
        }

        CallSummary pairBefore = await one.TrafficAsync("1to2");
        CallSummary pairDuring = await Eventually.UntilAsync(() => one.TrafficAsync("1to2"), t => t.Ok >= pairBefore.Ok + 50, "0.0.1.1's calls to 0.0.1.2 to go on while 0.0.1.3 is dead", TimeSpan.FromSeconds(10));
        Assert.True(pairDuring.Failed == 0, $"0.0.1.1 -> 0.0.1.2 failed while 0.0.1.3 was dead: {pairDuring}");

        // A group with a dead member: the live one answers every broadcast call.
        CallSummary broadcast = await one.CallAsync("broadcast:" + LoopbackMesh.Everyone, 20, timeoutMs: 2000);
        output.WriteLine($"broadcast from 0.0.1.1 while 0.0.1.3 is dead: {broadcast}");
        Assert.True(broadcast.Ok == 20 && broadcast.Sources.Keys.SequenceEqual(["0.0.1.2"]), $"0.0.1.2 should answer every broadcast call while 0.0.1.3 is dead: {broadcast}");

        // Phase 2: 0.0.1.3 comes back on its port; nobody tells the others.
        clock.Restart();
        await _mesh.RestartAsync(three);
        output.WriteLine($"0.0.1.3 restarted on {three.Address} in {clock.ElapsedMilliseconds} ms");
        foreach ((MeshNode from, string name) in toThree)
        {
            CallSummary resumed = await Eventually.UntilAsync(() => from.TrafficAsync(name), t => t.Ok >= okAtDeath[name] + 10, $"{from}'s calls to the restarted 0.0.1.3 to succeed again", ResumeTimeout);
            output.WriteLine($"{name} resumed {clock.ElapsedMilliseconds} ms after the restart began: {resumed}");
        }

        // Every call ended, by an answer or by its timeout; only the ways a dead peer fails.
        foreach ((MeshNode from, string name) in toThree)
        {
            CallSummary all = await from.StopTrafficAsync(name);
            output.WriteLine($"{name}: {all}");
            string[] unexpected = [.. all.Codes.Keys.Where(code => code != "Ok" && !FailureCodes.Contains(code))];
            Assert.True(unexpected.Length == 0, $"{name}: calls to a dead peer may end Unreachable or Timeout, not {string.Join(',', unexpected)}: {all}");
            Assert.True(all.Mismatches == 0, $"{name}: bodies came back changed: {all}");
            Assert.True(all.MaxMilliseconds <= LongestCallMs, $"{name}: a call took {all.MaxMilliseconds} ms with a {CallTimeoutMs} ms timeout: {all}");
        }

        CallSummary pair = await one.StopTrafficAsync("1to2");
        output.WriteLine($"1to2: {pair}");
        Assert.True(pair.Failed == 0 && pair.Mismatches == 0, $"0.0.1.1 -> 0.0.1.2 must not notice 0.0.1.3's death: {pair}");

        foreach ((MeshNode from, MeshNode to) in new[] { (three, one), (three, two), (one, three) })
        {
            CallSummary after = await from.CallAsync(to.Route, 20, inflight: 4);
            Assert.True(after.Ok == 20, $"{from} -> {to} after the restart: {after}");
        }
    }
}
