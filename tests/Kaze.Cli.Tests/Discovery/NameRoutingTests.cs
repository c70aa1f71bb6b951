using Kaze.Cli.Tests.Infrastructure;
using Kaze.Cli.Tests.Mesh;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Discovery;

/// <summary>
/// Calls by service name (KazeRoute.Name, docs/discovery.md) across real sidecars: spread round
/// robin over the members, a broadcast to a name reaching each member once, calls going on without
/// UNREACHABLE while a member is SIGKILLed, and names given to static nodes without etcd.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class NameRoutingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private EtcdProcess? _etcd;
    private LoopbackMesh? _mesh;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _mesh?.Dispose();
        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }
    }

    [EtcdFact]
    public async Task CallsByName_ThreeMembersThroughEtcd_SpreadOverAllAndGoOnWithoutUnreachableWhenOneIsKilled()
    {
        _etcd = await EtcdProcess.StartAsync(TimeSpan.FromSeconds(30));
        _mesh = new LoopbackMesh(output.WriteLine) { StaticPeers = false };
        string[] options = ["--etcd", _etcd.ClientUrl.ToString(), "--name", "orders", "--log-level", "info"];
        await _mesh.StartAsync(LoopbackMesh.ThreeNodes(options));
        MeshNode one = _mesh["0.0.1.1"];
        MeshNode three = _mesh["0.0.1.3"];

        CallSummary spread = await one.CallAsync("name:orders", 90, inflight: 3);
        output.WriteLine("before: " + spread);
        Assert.True(spread.Ok == 90 && spread.Mismatches == 0, $"every call by name should be answered OK: {spread}");
        foreach (string member in new[] { "0.0.1.1", "0.0.1.2", "0.0.1.3" })
        {
            Assert.True(spread.Sources.GetValueOrDefault(member) >= 20, $"round robin over three members should give {member} about a third of 90 calls: {spread}");
        }

        await one.StartTrafficAsync("orders", "name:orders", timeoutMs: 2000, intervalMs: 5);
        await Eventually.UntilAsync(() => one.TrafficAsync("orders"), s => s.Calls >= 50, "50 calls by name before the kill", Deadline.Long, s => s.ToString());
        await _mesh.KillAsync(three);
        CallSummary atKill = await one.TrafficAsync("orders");
        await Eventually.UntilAsync(() => one.TrafficAsync("orders"), s => s.Calls >= atKill.Calls + 200, "200 calls by name after 0.0.1.3 was killed", TimeSpan.FromSeconds(60), s => s.ToString());
        CallSummary traffic = await one.StopTrafficAsync("orders");
        output.WriteLine("traffic: " + traffic);

        Assert.True(traffic.Count("Unreachable") == 0, $"no call by name is answered Unreachable while another member is up: {traffic}");
        Assert.True(traffic.Sources.GetValueOrDefault("0.0.1.1") > 0 && traffic.Sources.GetValueOrDefault("0.0.1.2") > 0, $"the live members answer: {traffic}");

        CallSummary after = await one.CallAsync("name:orders", 20);
        Assert.True(after.Ok == 20 && !after.Sources.ContainsKey("0.0.1.3"), $"after the kill, calls by name go to the live members only: {after}");
    }

    [EtcdFact]
    public async Task BroadcastToName_ThroughEtcd_ReachesEachMemberOnceAndNoOtherNode()
    {
        _etcd = await EtcdProcess.StartAsync(TimeSpan.FromSeconds(30));
        _mesh = new LoopbackMesh(output.WriteLine) { StaticPeers = false };
        string[] common = ["--etcd", _etcd.ClientUrl.ToString()];
        await _mesh.StartAsync([
            new MeshNodeSpec("0.0.1.1", [.. common, "--name", "caller"]),
            new MeshNodeSpec("0.0.1.2", [.. common, "--name", "billing"]),
            new MeshNodeSpec("0.0.1.3", [.. common, "--name", "billing", "--name", "orders"])]);
        MeshNode one = _mesh["0.0.1.1"];
        string tag = "every-billing-" + Guid.NewGuid().ToString("N");

        await one.NotifyAsync("every:billing", tag);

        foreach (string member in new[] { "0.0.1.2", "0.0.1.3" })
        {
            await Eventually.UntilAsync(() => _mesh[member].MarksAsync(tag), marks => marks.Count > 0, $"{member} to receive the broadcast to billing", Deadline.Long, marks => string.Join(',', marks));
        }

        await _mesh.FenceAsync();
        foreach (MeshNode node in _mesh.Nodes)
        {
            IReadOnlyList<string> marks = await node.MarksAsync(tag);
            string[] expected = node.Ident == "0.0.1.1" ? [] : ["0.0.1.1/notify"];
            Assert.True(marks.SequenceEqual(expected), $"{node} should have [{string.Join(',', expected)}], got [{string.Join(',', marks)}]");
        }

        CallSummary orders = await one.CallAsync("name:orders", 10);
        Assert.True(orders.Ok == 10 && orders.Sources.GetValueOrDefault("0.0.1.3") == 10, $"orders has one member, 0.0.1.3: {orders}");
        CallSummary nobody = await one.CallAsync("name:shipping", 3, timeoutMs: 10_000);
        Assert.True(nobody.Count("Unreachable") == 3 && nobody.MaxMilliseconds < 2000, $"a name nobody has is answered Unreachable at once: {nobody}");
    }

    [Fact]
    public async Task CallsByName_StaticNodesWithNames_WorkWithoutEtcd()
    {
        _mesh = new LoopbackMesh(output.WriteLine) { StaticNames = new Dictionary<string, string> { ["0.0.1.2"] = "orders", ["0.0.1.3"] = "orders,billing" } };
        await _mesh.StartAsync(LoopbackMesh.ThreeNodes());
        MeshNode one = _mesh["0.0.1.1"];

        CallSummary orders = await one.CallAsync("name:orders", 40, inflight: 2);
        output.WriteLine(orders.ToString());
        Assert.True(orders.Ok == 40 && orders.Sources.GetValueOrDefault("0.0.1.2") >= 10 && orders.Sources.GetValueOrDefault("0.0.1.3") >= 10, $"calls to orders spread over 0.0.1.2 and 0.0.1.3: {orders}");

        CallSummary billing = await one.CallAsync("name:billing", 10);
        Assert.True(billing.Ok == 10 && billing.Sources.GetValueOrDefault("0.0.1.3") == 10, $"billing is 0.0.1.3 alone: {billing}");
    }
}
