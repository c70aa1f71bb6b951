using System.Diagnostics;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>What one node of a mesh is: its ident and its own `kaze run` options.</summary>
internal sealed record MeshNodeSpec(string Ident, params string[] Options);

/// <summary>
/// Sidecars on loopback, each `kaze run --ident I --listen 127.0.0.1:P --metrics off --channel
/// test-GUID --node J=127.0.0.1:Q ... -- dotnet Kaze.MeshHost.dll serve SOCKET`, every node a
/// static peer of every other. Ports are picked free and, if one is taken before kaze binds it
/// (kaze exits 69), the whole mesh starts again on new ones.
/// </summary>
/// <remarks>
/// Built on <see cref="KazeRuns"/>: Dispose SIGKILLs every kaze and host started here (killed,
/// restarted or not, whether the test passed or failed) and removes every channel file and the
/// directory holding the control sockets.
/// </remarks>
internal sealed class LoopbackMesh : IDisposable
{
    /// <summary>The selector of every node of the default mesh: 0.0.1.0/255.255.255.0.</summary>
    public const string Everyone = "0.0.1.0/255.255.255.0";

    // kaze's exit code when its --listen address cannot be bound (RunCommand.CannotListen).
    private const int CannotListen = 69;
    private const int StartAttempts = 3;

    // A kaze and a .NET host start in about a second each on an idle machine; six at once on two cores take longer.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(45);

    private readonly KazeRuns _runs = new();
    private readonly List<MeshNode> _nodes = [];
    private readonly Action<string> _log;

    /// <summary>A mesh with no node yet: files it needs (e.g. secret files) go in <see cref="Directory"/> before <see cref="StartAsync"/>.</summary>
    /// <param name="log">Where to report start-up times and retries (the test output), or null.</param>
    public LoopbackMesh(Action<string>? log = null) => _log = log ?? (_ => { });

    public IReadOnlyList<MeshNode> Nodes => _nodes;

    /// <summary>Whether each node gets every other as a static peer (--node); false when they find each other through etcd.</summary>
    public bool StaticPeers { get; init; } = true;

    /// <summary>Service names given to static peers (--node IDENT=ADDRESS/NAMES), by ident; none by default.</summary>
    public IReadOnlyDictionary<string, string>? StaticNames { get; init; }

    /// <summary>Extra environment of every kaze (e.g. KAZE_DISCOVERY__ETCD__TTL).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>The directory of this mesh's files (secret files may go here); removed on Dispose.</summary>
    public string Directory => _runs.Directory;

    public MeshNode this[string ident] => _nodes.Single(n => n.Ident == ident);

    /// <summary>0.0.1.1, 0.0.1.2 and 0.0.1.3, each with <paramref name="options"/>.</summary>
    public static MeshNodeSpec[] ThreeNodes(params string[] options) =>
        [new("0.0.1.1", options), new("0.0.1.2", options), new("0.0.1.3", options)];

    /// <summary>Starts every node and waits for every host's "ready".</summary>
    public async Task StartAsync(IReadOnlyList<MeshNodeSpec> specs)
    {
        if (_nodes.Count != 0)
        {
            throw new InvalidOperationException("The mesh is started already.");
        }

        for (int attempt = 1; ; attempt++)
        {
            int[] ports = FreePorts.Pick(specs.Count);
            List<MeshNode> nodes = [.. specs.Select((spec, i) => new MeshNode(spec.Ident, ports[i], Path.Combine(_runs.Directory, spec.Ident + ".sock"), spec.Options))];
            _nodes.Clear();
            _nodes.AddRange(nodes);
            long started = Stopwatch.GetTimestamp();
            foreach (MeshNode node in nodes)
            {
                Launch(node);
            }

            bool[] ready = await Task.WhenAll(nodes.Select(WaitUntilReadyAsync));
            if (ready.All(r => r))
            {
                _log($"mesh started in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s: {string.Join(", ", nodes.Select(n => $"{n} on {n.Address}"))}");
                return;
            }

            foreach (MeshNode node in nodes)
            {
                node.Kaze.Dispose();
            }

            string taken = string.Join(", ", nodes.Where((_, i) => !ready[i]).Select(n => n.Address));
            _log($"attempt {attempt}: a listen address was taken before kaze bound it ({taken}); starting again on new ports");
            if (attempt == StartAttempts)
            {
                throw new XunitException($"Cannot start the mesh: a picked port was taken before kaze bound it, {StartAttempts} times in a row (last: {taken}).");
            }
        }
    }

    /// <summary>One call between each pair, one pair at a time: every connection is up, and no two nodes dial each other at once later.</summary>
    public async Task WarmUpAsync()
    {
        for (int i = 0; i < _nodes.Count; i++)
        {
            for (int j = i + 1; j < _nodes.Count; j++)
            {
                CallSummary result = await _nodes[i].CallAsync(_nodes[j].Route, 1, timeoutMs: 10_000);
                Assert.True(result.Ok == 1, $"warm-up call from {_nodes[i]} to {_nodes[j]}: {result}");
            }
        }
    }

    /// <summary>
    /// Every node calls every node (itself too) once. When these answers are back, every packet a
    /// node sent or relayed before to another has been handled there: packets between two sidecars
    /// travel one connection, in order, and a host reads its ring in order.
    /// </summary>
    public async Task FenceAsync()
    {
        foreach (MeshNode from in _nodes)
        {
            foreach (MeshNode to in _nodes)
            {
                CallSummary result = await from.CallAsync(to.Route, 1, timeoutMs: 10_000);
                Assert.True(result.Ok == 1, $"fence call from {from} to {to}: {result}");
            }
        }
    }

    /// <summary>Starts one more kaze with <paramref name="arguments"/> (in this mesh's directory; killed on Dispose).</summary>
    public KazeProcess StartKaze(IReadOnlyList<string> arguments) => _runs.Start(arguments, Environment);

    /// <summary>A new channel name of this mesh (its file is removed on Dispose).</summary>
    public string NewChannel() => _runs.NewChannel();

    /// <summary>SIGKILLs the node's kaze and its host, and waits until both are gone.</summary>
    public async Task KillAsync(MeshNode node)
    {
        Posix.Kill(node.Kaze.Pid, Posix.SIGKILL);
        Posix.Kill(node.HostPid, Posix.SIGKILL);
        int code = await node.Kaze.WaitForExitAsync($"kaze of {node} to die of SIGKILL");
        Assert.Equal(128 + Posix.SIGKILL, code);
        await Eventually.True(() => !Posix.IsRunning(node.HostPid), $"the host of {node} (pid {node.HostPid}) to die of SIGKILL", Deadline.Long);
    }

    /// <summary>Starts the node again on its port, with a new channel, and waits for its host's "ready".</summary>
    public async Task RestartAsync(MeshNode node)
    {
        Launch(node);
        if (!await WaitUntilReadyAsync(node))
        {
            throw new XunitException($"Cannot restart {node}: its port {node.Port} was taken meanwhile.\n{node.Kaze.Describe()}");
        }
    }

    public void Dispose() => _runs.Dispose();

    private void Launch(MeshNode node)
    {
        List<string> arguments = ["run", "--ident", node.Ident, "--listen", node.Address, "--metrics", "off", "--channel", _runs.NewChannel()];
        foreach (MeshNode peer in _nodes.Where(p => p != node && StaticPeers))
        {
            string names = StaticNames?.GetValueOrDefault(peer.Ident) is { } given ? "/" + given : "";
            arguments.AddRange(["--node", $"{peer.Ident}={peer.Address}{names}"]);
        }

        arguments.AddRange(node.Options);
        arguments.AddRange(["--", TestPrograms.Dotnet, MeshHostProgram.Path, "serve", node.ControlPath]);
        node.Kaze = _runs.Start(arguments, Environment);
    }

    /// <summary>True once the host said "ready"; false if kaze could not bind its port (exit 69); fails on anything else.</summary>
    private async Task<bool> WaitUntilReadyAsync(MeshNode node)
    {
        string what = $"the host of {node} to print 'ready'";
        try
        {
            await node.Kaze.Stdout.WaitForLineAsync(l => l.StartsWith("ready ", StringComparison.Ordinal), what, StartTimeout);
        }
        catch (XunitException notReady)
        {
            // Either stdout ended (kaze exited: find out why) or the wait timed out (kaze still runs).
            int code;
            try
            {
                code = await node.Kaze.WaitForExitAsync($"kaze of {node} to exit", TimeSpan.FromSeconds(10));
            }
            catch (XunitException)
            {
                throw notReady;
            }

            return code == CannotListen
                ? false
                : throw new XunitException($"kaze of {node} exited with {code} before its host was ready.\n{node.Kaze.Describe()}");
        }

        node.HostPid = await _runs.WaitForReadyChildAsync(node.Kaze, what);
        return true;
    }
}
