using System.Diagnostics.Metrics;
using Kaze.Core;
using Kaze.Core.Waiting;
using Kaze.Edge;
using Kaze.Mesh;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Service;
using Kaze.Sidecar.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Sidecar;

/// <summary>
/// One sidecar: the channel to its host (edge), the packet pipeline, and the router at its end.
/// Packets from the host enter the pipeline on the edge's reader thread; a middleware that
/// awaits holds up only its own packet.
/// </summary>
public sealed class SidecarNode : IAsyncDisposable
{
    private readonly SidecarOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly PipelineBuilder _pipelineBuilder;
    private readonly IResolver _resolver;
    private HostEdge? _edge;
    private Router? _router;
    private RequestTracker? _tracker;
    private PacketDelegate? _pipeline;
    // The pipeline without the tracker, for requests a local endpoint tracked itself (ISidecarPort.Route).
    private PacketDelegate? _middleware;
    private LocalGate? _localGate;
    // The HTTP gateway, when configured; set before Start.
    private ILocalEndpoint? _endpoint;
    private IMeshLink? _mesh;
    // The replier of the peer the last network packet came from; replaced whole, so any thread reads one that is complete.
    private volatile PeerReplier? _lastReplier;

    // Polled by the edge's reader: the corral's connections lend it their reads (null: none).
    private IReaderCompanion? _readLender;

    // The host's exit code once kaze run reported it; long.MinValue until then. Interlocked: read by metrics.
    private long _hostExitCode = long.MinValue;

    /// <summary>Creates the sidecar; nothing happens until <see cref="Start"/>.</summary>
    public SidecarNode(SidecarOptions options, ILoggerFactory? loggerFactory = null, IServiceProvider? services = null, IResolver? resolver = null)
    {
        _options = options;
        _resolver = resolver ?? EmptyResolver.Instance;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("Kaze.Sidecar");
        _pipelineBuilder = new PipelineBuilder(services);
    }

    /// <summary>This node's ident.</summary>
    public Ident Ident => _options.Ident;

    /// <summary>The pipeline, for adding middleware before <see cref="Start"/>.</summary>
    public PipelineBuilder Pipeline => _pipelineBuilder;

    /// <summary>The edge; available after <see cref="Start"/>.</summary>
    public HostEdge Edge => _edge ?? throw new InvalidOperationException("The sidecar is not started.");

    /// <summary>Routing counters; available after <see cref="Start"/>.</summary>
    public RouterCounters RouterCounters => _router?.Counters ?? throw new InvalidOperationException("The sidecar is not started.");

    /// <summary>Completes when the host's end of the channel is gone (closed or dead).</summary>
    public Task<ChannelStatus> HostEnded => Edge.HostEnded;

    /// <summary>Requests from the host waiting for their response.</summary>
    public int PendingRequests => _tracker?.PendingCount ?? 0;

    /// <summary>The host program's exit code (128+N for signal N) once `kaze run` has reported it with <see cref="ReportHostExit"/>; null before.</summary>
    public int? HostExitCode
    {
        get
        {
            long code = Interlocked.Read(ref _hostExitCode);
            return code == long.MinValue ? null : (int)code;
        }
    }

    /// <summary>The edge, or null before <see cref="Start"/> and for a node without a host; for metrics.</summary>
    internal HostEdge? EdgeIfStarted => _edge;

    /// <summary>The routing counters, or null before <see cref="Start"/>; for metrics.</summary>
    internal RouterCounters? RouterCountersIfStarted => _router?.Counters;

    /// <summary>Where the request tracker records each call's latency (the metrics plugin sets it); before <see cref="Start"/>.</summary>
    internal Histogram<double>? CallDuration { get; set; }

    /// <summary>Records the host program's exit code when it has exited (for metrics: kaze_host_exit_code).</summary>
    public void ReportHostExit(int exitCode) => Interlocked.Exchange(ref _hostExitCode, exitCode);

    /// <summary>
    /// Creates the channel (unless the node runs without a host) and starts serving it.
    /// Throws <see cref="ChannelException"/> if the channel cannot be created.
    /// </summary>
    public void Start()
    {
        if (_options.WithHost)
        {
            _edge = HostEdge.Create(_options.EffectiveChannelName, new EdgeOptions { Channel = _options.Channel }, _loggerFactory.CreateLogger("Kaze.Edge"));
            _localGate = new LocalGate(this);
        }

        _router = new Router(_options.Ident, _localGate, _resolver, _mesh, _logger, _options.Names);
        _tracker = new RequestTracker(_options.Ident, SendTrackerAnswer, _router.Counters, _loggerFactory.CreateLogger("Kaze.Tracker"), callDuration: CallDuration);
        // The tracker is the outermost step: a request that a middleware answers itself (a rate
        // limit's RET_RESOURCE_EXHAUSTED, a plugin's own answer, a failed step's RET_UNREACHABLE)
        // must already be tracked, or HostGate would drop that answer as late.
        PacketDelegate middleware = _pipelineBuilder.Build(_router.RouteAsync);
        _middleware = middleware;
        _pipeline = new PipelineBuilder().Use(_tracker.InvokeAsync, "tracker").Build(middleware);
        if (_mesh is not null)
        {
            // What the host wrote in one go goes out to each peer in one send. The edge's reader
            // also reads the peer connections while it polls (PeerCorral.LendReads).
            _edge?.Start(OnHostPacket, PeerCorral.BeginBatch, PeerCorral.EndBatch, _readLender);
        }
        else
        {
            _edge?.Start(OnHostPacket);
        }

        SidecarLog.Started(_logger, _options.Ident, _edge?.ChannelName ?? "(none: no host)");
    }

    /// <summary>Feeds a packet that arrived from peer sidecar <paramref name="from"/> into the pipeline; takes ownership.</summary>
    internal void OnNetworkPacket(Packet packet, Ident from)
    {
        if (_pipeline is null)
        {
            packet.Dispose();
            return;
        }

        if (IsForgedControl(packet))
        {
            return;
        }

        if (_endpoint is { } endpoint && TakeDirect(endpoint, packet))
        {
            return;
        }

        // Packets come in runs from one peer: its replier is made once per run, not per packet.
        PeerReplier? replier = _lastReplier;
        if (replier is null || replier.Peer != from)
        {
            replier = new PeerReplier(this, from);
            _lastReplier = replier;
        }

        Run(new PacketContext(packet, PacketOrigin.Network, from, replier));
    }

    /// <summary>Only this sidecar may tell its host to exit: a kaze.exit from the host or the network is dropped.</summary>
    private bool IsForgedControl(Packet packet)
    {
        if (packet.Header.BodyType != ControlBodyTypes.Exit)
        {
            return false;
        }

        Interlocked.Increment(ref _router!.Counters.NotifiesDropped);
        packet.Dispose();
        return true;
    }

    /// <summary>A packet the mesh could not deliver: requests get RET_UNREACHABLE; a local endpoint hears of its exchange's packets.</summary>
    internal void OnUndeliverable(Packet packet, string reason)
    {
        if (_endpoint is { } endpoint
            && packet.Header.RpcTypeCase != Hdr.RpcTypeOneofCase.Req
            && packet.Header.SrcIdent == _options.Ident.Value
            && endpoint.Claim(packet.Header.BodyType) == EndpointClaim.Direct)
        {
            endpoint.Undeliverable(packet);
            return;
        }

        _router!.Undeliverable(packet, reason);
    }

    /// <summary>
    /// A node left the mesh (discovery removed it, and no static entry keeps it): the requests of
    /// this node's host pending on it are answered RET_UNREACHABLE at once.
    /// </summary>
    /// <returns>How many were answered.</returns>
    public int FailPendingTo(Ident peer) => _tracker?.FailPendingTo(peer) ?? 0;

    /// <summary>
    /// Attaches a local endpoint (the HTTP gateway): packets for this node whose body type it
    /// claims go to it instead of the host; it sends through the returned port. Before
    /// <see cref="Start"/>; one endpoint per node; only a node with a host (`kaze run`) has one.
    /// </summary>
    public ISidecarPort Attach(ILocalEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (_pipeline is not null)
        {
            throw new InvalidOperationException("Attach the endpoint before the sidecar starts.");
        }

        if (!_options.WithHost)
        {
            throw new InvalidOperationException("Only a sidecar with a host (kaze run) takes a local endpoint.");
        }

        if (Interlocked.CompareExchange(ref _endpoint, endpoint, null) is not null)
        {
            throw new InvalidOperationException("The sidecar has a local endpoint already.");
        }

        return new EndpointPort(this);
    }

    /// <summary>
    /// Packets of an exchange a local endpoint runs (its <see cref="EndpointClaim.Direct"/> body
    /// types), addressed to this node, skip the pipeline: they are delivered in the order they
    /// came, and responses among them end their request's tracking first. False: not such a packet.
    /// </summary>
    private bool TakeDirect(ILocalEndpoint endpoint, Packet packet)
    {
        Hdr header = packet.Header;
        uint dst = header.RouteTypeCase == Hdr.RouteTypeOneofCase.DstIdent ? header.DstIdent : uint.MaxValue;
        if ((dst != 0 && dst != _options.Ident.Value) || endpoint.Claim(header.BodyType) != EndpointClaim.Direct)
        {
            return false;
        }

        _localGate!.TrySend(packet);
        return true;
    }

    /// <summary>
    /// Connects the router to the other sidecars, and gives the edge's reader (with a host) the
    /// connections' reads to poll (<see cref="PeerCorral.LendReads"/>); before <see cref="Start"/>.
    /// </summary>
    internal void UseMesh(IMeshLink mesh, IReaderCompanion? readLender = null)
    {
        _mesh = mesh;
        _readLender = readLender;
    }

    /// <summary>Sends the host the exit request (a <see cref="ControlBodyTypes.Exit"/> notify).</summary>
    public bool RequestHostExit()
    {
        if (_edge is null)
        {
            return false;
        }

        Hdr header = Hdr.CreateNotify(_options.Ident, ControlBodyTypes.Exit);
        header.SrcIdent = _options.Ident.Value;
        SidecarLog.ExitRequested(_logger);
        return _edge.TrySend(Packet.Create(header, ReadOnlySpan<byte>.Empty));
    }

    /// <summary>Stops serving, closes the channel and deletes its file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_tracker is not null)
        {
            await _tracker.DisposeAsync().ConfigureAwait(false);
        }

        if (_edge is not null)
        {
            await _edge.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnHostPacket(Packet packet)
    {
        // The host speaks for this node: whatever it put in srcIdent, the packet is from us.
        packet.Header.SrcIdent = _options.Ident.Value;
        if (IsForgedControl(packet))
        {
            return;
        }

        var context = new PacketContext(packet, PacketOrigin.Host, _options.Ident, _localGate!);
        Run(context);
    }

    private void Run(PacketContext context) => Run(_pipeline!, context);

    private void Run(PacketDelegate pipeline, PacketContext context)
    {
        ValueTask pending;
        try
        {
            pending = pipeline(context);
        }
        catch (Exception e)
        {
            Failed(context, e);
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            context.Dispose();
            return;
        }

        _ = CompleteAsync(pending, context);
    }

    private async Task CompleteAsync(ValueTask pending, PacketContext context)
    {
        try
        {
            await pending.ConfigureAwait(false);
            context.Dispose();
        }
        catch (Exception e)
        {
            Failed(context, e);
        }
    }

    private void Failed(PacketContext context, Exception e)
    {
        Interlocked.Increment(ref _router!.Counters.PipelineErrors);
        string step = e is PipelineStepException stepException ? stepException.Step : "pipeline";
        SidecarLog.PipelineFailed(_logger, e is PipelineStepException ? e.InnerException! : e, step, context.Header.BodyType, context.Origin.ToString());
        // Never silence for a request: answer it if the packet is still ours to answer.
        try
        {
            context.TryRespond(RetCode.Unreachable, _options.Ident);
        }
        catch (InvalidOperationException)
        {
        }

        context.Dispose();
    }

    private void SendTrackerAnswer(Packet packet)
    {
        if (_edge is null || !_edge.TrySend(packet))
        {
            packet.Dispose();
        }
    }

    /// <summary>Answers go back to the peer the packet came from (or wherever the router sends the answer's destination).</summary>
    private sealed class PeerReplier(SidecarNode node, Ident peer) : IPacketReplier
    {
        public Ident Peer => peer;

        public bool TrySend(Packet packet)
        {
            if (node._mesh is not null && node._mesh.TrySend(peer, packet, out _))
            {
                return true;
            }

            packet.Dispose();
            return false;
        }
    }

    /// <summary>
    /// The one way to the host and to a local endpoint: responses pass the tracker (so the host
    /// gets one answer per request, and an endpoint's answers go to the endpoint), packets whose
    /// body type the endpoint claims go to it, the rest to the host.
    /// </summary>
    private sealed class LocalGate(SidecarNode node) : IPacketReplier
    {
        public bool TrySend(Packet packet)
        {
            Hdr header = packet.Header;
            if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp)
            {
                if (!node._tracker!.TryComplete(header, out IAnswerSink? owner))
                {
                    packet.Dispose();
                    return false;
                }

                if (owner is not null)
                {
                    owner.Answer(packet);
                    return true;
                }
            }
            else if (node._endpoint is { } endpoint && endpoint.Claim(header.BodyType) != EndpointClaim.None)
            {
                endpoint.Deliver(packet);
                return true;
            }

            return node._edge!.TrySend(packet);
        }
    }

    /// <summary>The local endpoint's way to send: <see cref="ISidecarPort"/> over this node.</summary>
    private sealed class EndpointPort(SidecarNode node) : ISidecarPort
    {
        public Ident Self => node._options.Ident;

        public uint Track(Hdr request, IAnswerSink sink) =>
            (node._tracker ?? throw new InvalidOperationException("The sidecar is not started.")).TrackLocal(request, sink);

        public void Forget(uint sequence) => node._tracker?.Forget(sequence);

        public void Route(Packet request)
        {
            if (node._middleware is not { } middleware)
            {
                request.Dispose();
                throw new InvalidOperationException("The sidecar is not started.");
            }

            node.Run(middleware, new PacketContext(request, PacketOrigin.Host, node._options.Ident, node._localGate!));
        }

        public RetCode Send(Packet packet)
        {
            uint dst = packet.Header.DstIdent;
            if (dst == 0 || dst == node._options.Ident.Value)
            {
                return node._localGate is { } gate && gate.TrySend(packet) ? RetCode.Ok : RetCode.Unreachable;
            }

            bool queueFull = false;
            if (node._mesh is { } mesh && mesh.TrySend(new Ident(dst), packet, out queueFull))
            {
                return RetCode.Ok;
            }

            packet.Dispose();
            return queueFull ? RetCode.ResourceExhausted : RetCode.Unreachable;
        }
    }
}
