using Kaze.Mesh;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Resolver.Etcd;
using Kaze.Resolver.Static;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Discovery;

/// <summary>
/// The sidecar's part in discovery on etcd (docs/discovery.md): the registry's view answers the
/// router and the corral (as the second resolver after the static nodes); this node is registered
/// at start and deregistered at a clean stop; a node that leaves the view has its connection
/// closed and the host's requests pending on it answered RET_UNREACHABLE.
/// </summary>
/// <remarks>
/// A node that leaves etcd but is still a static entry (<c>nodes</c>) stays: the static table
/// keeps answering for it. Changes arrive on the registry's watch thread, one at a time.
/// </remarks>
public sealed class EtcdDiscovery : IAsyncDisposable
{
    private readonly EtcdRegistry _registry;
    private readonly StaticResolver _static;
    private readonly ILogger _logger;
    private SidecarNode? _node;
    private PeerCorral? _corral;
    private long _removals;

    /// <summary>Creates the registry from <paramref name="options"/>; nothing is asked of etcd before <see cref="StartAsync"/>.</summary>
    /// <param name="options">The registry's options (from discovery:etcd:*).</param>
    /// <param name="staticNodes">The static nodes: a node they know is never disconnected for leaving etcd.</param>
    /// <param name="loggers">Where the registry and this class log.</param>
    public EtcdDiscovery(EtcdRegistryOptions options, StaticResolver staticNodes, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        _registry = new EtcdRegistry(options, loggers.CreateLogger<EtcdRegistry>());
        _static = staticNodes;
        _logger = loggers.CreateLogger("Kaze.Discovery");
        Options = options;
    }

    /// <summary>The registry's options.</summary>
    public EtcdRegistryOptions Options { get; }

    /// <summary>The registry: the view, its status and counters.</summary>
    public EtcdRegistry Registry => _registry;

    /// <summary>Nodes that left the view and were disconnected, since start.</summary>
    public long Removals => Interlocked.Read(ref _removals);

    /// <summary>
    /// Reads the view (a first read that fails throws <see cref="RegistryUnavailableException"/>),
    /// starts watching, then registers <paramref name="self"/> if given.
    /// </summary>
    /// <param name="node">The node whose pending requests fail when their peer leaves.</param>
    /// <param name="corral">The corral whose connections to leaving nodes are closed; null if it is not started.</param>
    /// <param name="self">This node's entry (ident, advertised address, names), or null to watch only (no listen address).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="RegistryUnavailableException">etcd did not answer.</exception>
    /// <exception cref="IdentHeldException">A live sidecar holds this node's ident.</exception>
    public async Task StartAsync(SidecarNode node, PeerCorral? corral, NodeEntry? self, CancellationToken cancellationToken)
    {
        _node = node;
        _corral = corral;
        _registry.Changed += OnChanged;
        await _registry.StartAsync(cancellationToken).ConfigureAwait(false);
        if (self is { } entry)
        {
            await _registry.RegisterAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    private void OnChanged(RegistryChange change)
    {
        foreach (NodeEntry gone in change.Removed)
        {
            Leave(gone.Ident, "it left etcd");
        }

        foreach (NodeEntry updated in change.Updated)
        {
            // A node that moved: its old connection goes, the next send dials the new address.
            if (_corral is { } corral && _static.Table.TryGetAddress(updated.Ident, out _) is false)
            {
                corral.Disconnect(updated.Ident, $"{updated.Ident} is registered again, at {updated.Address}");
            }
        }
    }

    private void Leave(Ident ident, string why)
    {
        if (_static.Table.TryGetAddress(ident, out _))
        {
            // A static entry keeps the node.
            return;
        }

        Interlocked.Increment(ref _removals);
        string reason = $"{ident} left the mesh ({why})";
        _corral?.Disconnect(ident, reason);
        int failed = _node?.FailPendingTo(ident) ?? 0;
        DiscoveryLog.NodeLeft(_logger, ident, failed);
    }

    /// <summary>Stops watching and revokes this node's lease (its entry goes at once).</summary>
    /// <returns>When done.</returns>
    public async ValueTask DisposeAsync()
    {
        _registry.Changed -= OnChanged;
        await _registry.DisposeAsync().ConfigureAwait(false);
    }
}

internal static partial class DiscoveryLog
{
    [LoggerMessage(EventId = 331, Level = LogLevel.Information, Message = "{Ident} left the mesh: its connection is closed, {Failed} pending requests answered UNREACHABLE")]
    public static partial void NodeLeft(ILogger logger, Ident ident, int failed);
}
