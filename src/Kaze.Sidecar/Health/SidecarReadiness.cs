using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kaze.Sidecar.Health;

/// <summary>
/// Whether this sidecar is ready to serve: the sidecar itself has started; with a host (`kaze
/// run`), the host program has started and opened the channel (or, for an HTTP app given with
/// <c>--app-port</c>, accepts connections on its port); the mesh listener is bound; and every
/// <see cref="IReadinessContributor"/> in the services (discovery's "registry entry written")
/// says so. <c>/readyz</c> shows it; <c>kaze sidecar</c> waits for it to tell systemd READY=1.
/// </summary>
/// <remarks>
/// The built-in checks read fields set by the parts that know (the sidecar's start, `kaze run`),
/// so <see cref="Evaluate"/> costs a few reads and, with <c>--app-port</c> and no channel opened,
/// one loopback connect. Readiness can be lost: a host that closed its channel makes the sidecar
/// not ready again.
/// </remarks>
public sealed class SidecarReadiness
{
    private readonly SidecarNode _node;
    private readonly bool _withHost;
    private readonly int? _appPort;
    private readonly IReadinessContributor[] _contributors;

    // What the mesh check shows; null until the sidecar's start has finished with the corral. Replaced whole.
    private volatile string? _mesh;

    // True once every part of the sidecar has started (SidecarApp.StartAsync returned).
    private volatile bool _started;

    // The host program's pid once `kaze run` started it; 0 before. Volatile: read by any request thread.
    private volatile int _hostPid;

    internal SidecarReadiness(SidecarNode node, bool withHost, int? appPort, IEnumerable<IReadinessContributor> contributors)
    {
        _node = node;
        _withHost = withHost;
        _appPort = appPort;
        _contributors = [.. contributors];
    }

    /// <summary>Called by `kaze run` once it has started the host program.</summary>
    public void ReportHostStarted(int pid) => _hostPid = pid;

    /// <summary>Called when the corral's start has finished: <paramref name="mesh"/> says where it accepts other sidecars (or why it does not).</summary>
    internal void ReportMesh(string mesh) => _mesh = mesh;

    /// <summary>Called when every part of the sidecar has started.</summary>
    internal void ReportStarted() => _started = true;

    /// <summary>Runs every check now.</summary>
    public ReadinessReport Evaluate()
    {
        var checks = new List<KeyValuePair<string, ReadinessCheck>>(3 + _contributors.Length);
        bool started = _started;
        string? mesh = _mesh;
        checks.Add(new("sidecar", started ? ReadinessCheck.Ready("started") : ReadinessCheck.NotReady("starting")));
        if (_withHost)
        {
            checks.Add(new("host", CheckHost(started)));
        }

        checks.Add(new("mesh", mesh is null ? ReadinessCheck.NotReady("starting") : ReadinessCheck.Ready(mesh)));
        foreach (IReadinessContributor contributor in _contributors)
        {
            checks.Add(new(contributor.Name, Check(contributor)));
        }

        bool ready = true;
        foreach (KeyValuePair<string, ReadinessCheck> check in checks)
        {
            ready &= check.Value.IsReady;
        }

        return new ReadinessReport(ready, checks);
    }

    /// <summary>Completes once <see cref="Evaluate"/> says ready, checking every <paramref name="interval"/>.</summary>
    public async Task<ReadinessReport> WaitUntilReadyAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadinessReport report = Evaluate();
            if (report.IsReady)
            {
                return report;
            }

            // No event covers every contributor (a registry entry, a host opening the file): poll.
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    private ReadinessCheck CheckHost(bool started)
    {
        int pid = _hostPid;
        if (!started || pid == 0)
        {
            return ReadinessCheck.NotReady("the host program has not started");
        }

        Kaze.Edge.HostEdge edge = _node.Edge;
        if (edge.HostEnded.IsCompleted)
        {
            return ReadinessCheck.NotReady("the host has closed the channel (" + edge.HostEnded.Result.ToString() + ")");
        }

        int attached = edge.HostPid;
        if (attached != 0)
        {
            return ReadinessCheck.Ready(string.Create(CultureInfo.InvariantCulture, $"pid {attached} has opened the channel"));
        }

        if (_appPort is int port)
        {
            return AppAccepts(port)
                ? ReadinessCheck.Ready(string.Create(CultureInfo.InvariantCulture, $"the app accepts connections on 127.0.0.1:{port}"))
                : ReadinessCheck.NotReady(string.Create(CultureInfo.InvariantCulture, $"the host program (pid {pid}) has not opened the channel, and nothing accepts connections on 127.0.0.1:{port} yet"));
        }

        return ReadinessCheck.NotReady(string.Create(CultureInfo.InvariantCulture, $"the host program (pid {pid}) has not opened the channel yet"));
    }

    /// <summary>A loopback connect: refused or accepted at once, no waiting on the network.</summary>
    private static bool AppAccepts(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static ReadinessCheck Check(IReadinessContributor contributor)
    {
        try
        {
            return contributor.Check();
        }
        catch (Exception e)
        {
            // A contributor must not throw; if it does, it is not ready, and /readyz says why.
            return ReadinessCheck.NotReady("the check failed: " + e.GetType().Name + ": " + e.Message);
        }
    }
}

/// <summary>The outcome of <see cref="SidecarReadiness.Evaluate"/>: ready if every check is, and each check by name, in order.</summary>
/// <param name="IsReady">True if every check is ready.</param>
/// <param name="Checks">Every check by name: "sidecar", "host" (with a host), "mesh", then the contributors'.</param>
public sealed record ReadinessReport(bool IsReady, IReadOnlyList<KeyValuePair<string, ReadinessCheck>> Checks);
