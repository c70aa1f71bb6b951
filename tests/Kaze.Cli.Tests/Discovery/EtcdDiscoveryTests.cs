using Kaze.Cli.Tests.Infrastructure;
using Kaze.Cli.Tests.Mesh;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Discovery;

/// <summary>
/// Real sidecars that know no static peer and find each other through a private etcd
/// (docs/discovery.md): registration under a lease, refusal of an ident a live sidecar holds,
/// revocation at a clean exit, expiry after SIGKILL, removals reaching the others (connection
/// closed, pending calls answered UNREACHABLE), and an etcd outage that changes nothing known.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class EtcdDiscoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    // kaze's exit code when a live sidecar holds its ident (SidecarStartup.IdentHeld).
    private const int IdentHeld = 75;

    private EtcdProcess _etcd = null!;
    private LoopbackMesh? _mesh;

    public async Task InitializeAsync() => _etcd = await EtcdProcess.StartAsync(TimeSpan.FromSeconds(30));

    public async Task DisposeAsync()
    {
        _mesh?.Dispose();
        await _etcd.DisposeAsync();
    }

    [EtcdFact]
    public async Task TwoSidecars_RegisterWithNamesFindEachOtherRefuseADuplicateAndRevokeOnCleanExit()
    {
        LoopbackMesh mesh = await StartMeshAsync(ttl: null, ["--name", "orders"], ["--name", "billing", "--name", "orders"]);
        MeshNode one = mesh["0.0.1.1"];
        MeshNode two = mesh["0.0.1.2"];

        string? entry = await _etcd.GetAsync("/kaze/nodes/0.0.1.2");
        output.WriteLine("0.0.1.2: " + entry);
        Assert.True(entry is not null && entry.Contains($"\"address\":\"{two.Address}\"", StringComparison.Ordinal) && entry.Contains("[\"billing\",\"orders\"]", StringComparison.Ordinal),
            $"0.0.1.2's entry should hold its address {two.Address} and names billing, orders: {entry ?? "(none)"}");

        CallSummary calls = await one.CallAsync(two.Route, 20);
        Assert.True(calls.Ok == 20, $"0.0.1.1 has no static peer and should reach 0.0.1.2 through etcd: {calls}");

        KazeProcess duplicate = mesh.StartKaze(["run", "--ident", "0.0.1.1", "--listen", "127.0.0.1:0", "--metrics", "off", "--channel", mesh.NewChannel(), "--etcd", _etcd.ClientUrl.ToString(), "--", "true"]);
        int code = await duplicate.WaitForExitAndOutputAsync("a second sidecar with ident 0.0.1.1 to be refused", TimeSpan.FromSeconds(45));
        output.WriteLine(duplicate.Stderr.Text);
        Assert.True(code == IdentHeld, $"a second 0.0.1.1 should exit {IdentHeld}, not {code}:\n{duplicate.Describe()}");
        Assert.Contains($"pid {one.Kaze.Pid}", duplicate.Stderr.Text, StringComparison.Ordinal);
        Assert.NotNull(await _etcd.GetAsync("/kaze/nodes/0.0.1.1"));

        two.Kaze.Signal(Posix.SIGTERM);
        await two.Kaze.WaitForExitAsync("kaze of 0.0.1.2 to exit after SIGTERM");
        Assert.True(await _etcd.GetAsync("/kaze/nodes/0.0.1.2") is null, "a clean exit revokes the lease: the entry is gone at once");
    }

    [EtcdFact]
    public async Task SidecarKilled_EntryExpiresWithinTheTtl_ThenTheOtherClosesItAndAnswersUnreachable()
    {
        LoopbackMesh mesh = await StartMeshAsync(ttl: "2s", [], []);
        MeshNode one = mesh["0.0.1.1"];
        MeshNode two = mesh["0.0.1.2"];
        Assert.True((await one.CallAsync(two.Route, 5)).Ok == 5, "0.0.1.1 reaches 0.0.1.2 before it is killed");

        await mesh.KillAsync(two);
        await Eventually.UntilAsync(() => _etcd.GetAsync("/kaze/nodes/0.0.1.2"), entry => entry is null, "0.0.1.2's entry to expire (TTL 2 s) after SIGKILL", TimeSpan.FromSeconds(15), entry => entry ?? "");
        await one.Kaze.Stderr.WaitForLineAsync(l => l.Contains("0.0.1.2 left the mesh", StringComparison.Ordinal), "0.0.1.1 to log that 0.0.1.2 left the mesh");

        CallSummary after = await one.CallAsync(two.Route, 3, timeoutMs: 10_000);
        output.WriteLine(after.ToString());
        Assert.True(after.Count("Unreachable") == 3 && after.MaxMilliseconds < 3000, $"calls to a node that left are answered Unreachable at once: {after}");
    }

    [EtcdFact]
    public async Task EntryDeleted_ThePendingCallToThatNodeIsAnsweredUnreachable()
    {
        LoopbackMesh mesh = await StartMeshAsync(ttl: null, [], []);
        MeshNode one = mesh["0.0.1.1"];
        MeshNode two = mesh["0.0.1.2"];
        string tag = "hang-" + Guid.NewGuid().ToString("N");

        // Answered after 60 s by 0.0.1.2's host; the call's own timeout is 30 s.
        Task<string> pending = one.RequestAsync(two.Route, tag, timeoutMs: 30_000, bodyType: "mark-hang");
        await Eventually.UntilAsync(() => two.MarksAsync(tag), marks => marks.Count > 0, "0.0.1.2's host to receive the request", Deadline.Long, marks => string.Join(',', marks));

        await _etcd.DeleteAsync("/kaze/nodes/0.0.1.2");

        string answer = await pending.WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine(answer);
        Assert.True(Fields.Get(answer, "code") == "Unreachable", $"a call pending on a node that left etcd is answered Unreachable, not left to time out: {answer}");
    }

    [EtcdFact]
    public async Task EtcdStoppedAndRestarted_SidecarsKeepTheirViewAndCallsGoOn_ThenAreRegisteredAgain()
    {
        LoopbackMesh mesh = await StartMeshAsync(ttl: "3s", [], []);
        MeshNode one = mesh["0.0.1.1"];
        MeshNode two = mesh["0.0.1.2"];

        await _etcd.KillAsync();
        await one.Kaze.Stderr.WaitForLineAsync(l => l.Contains("etcd is out of reach", StringComparison.Ordinal), "0.0.1.1 to say etcd is out of reach", TimeSpan.FromSeconds(30));

        // Well past the TTL: the view is kept, whatever etcd would say of the leases.
        CallSummary during = await one.CallAsync(two.Route, 20);
        Assert.True(during.Ok == 20, $"calls go on while etcd is out of reach: {during}");

        await _etcd.RestartAsync(TimeSpan.FromSeconds(30));
        await one.Kaze.Stderr.WaitForLineAsync(l => l.Contains("etcd is reachable again", StringComparison.Ordinal), "0.0.1.1 to say etcd is reachable again", TimeSpan.FromSeconds(30));
        foreach (MeshNode node in mesh.Nodes)
        {
            await Eventually.UntilAsync(() => _etcd.GetAsync("/kaze/nodes/" + node.Ident), entry => entry is not null, $"{node}'s entry to be in etcd again", TimeSpan.FromSeconds(30), entry => entry ?? "(none)");
        }

        CallSummary after = await two.CallAsync(one.Route, 5);
        Assert.True(after.Ok == 5, $"calls after the outage: {after}");
    }

    /// <summary>0.0.1.1 and 0.0.1.2 with --etcd (no static peers), logging at info; a TTL other than the default through the environment.</summary>
    private async Task<LoopbackMesh> StartMeshAsync(string? ttl, string[] oneOptions, string[] twoOptions)
    {
        string[] common = ["--etcd", _etcd.ClientUrl.ToString(), "--log-level", "info"];
        _mesh = new LoopbackMesh(output.WriteLine)
        {
            StaticPeers = false,
            Environment = ttl is null ? null : new Dictionary<string, string> { ["KAZE_DISCOVERY__ETCD__TTL"] = ttl },
        };
        await _mesh.StartAsync([new MeshNodeSpec("0.0.1.1", [.. common, .. oneOptions]), new MeshNodeSpec("0.0.1.2", [.. common, .. twoOptions])]);
        return _mesh;
    }
}
