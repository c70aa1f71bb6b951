using System.Collections.Concurrent;
using Kaze.Http.Egress;
using Kaze.Http.Flow;
using Kaze.Http.Ingress;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http;

/// <summary>
/// The HTTP gateway of one sidecar (docs/http.md): a loopback port the host calls the mesh
/// through (egress), and the forwarding of HTTP exchanges that reach this node to the host's
/// HTTP port with YARP's <see cref="IHttpForwarder"/> (ingress). Exchanges cross the mesh as
/// packets: a head, body chunks under credit-based flow control, an end with trailers, or a reset.
/// </summary>
/// <remarks>
/// The node hands the gateway its packets (<see cref="ILocalEndpoint"/>) and gives it an
/// <see cref="ISidecarPort"/> to send with (<see cref="Connect"/>). Nothing of ASP.NET is loaded
/// until a gateway is made: a sidecar without <c>http:*</c> settings never touches this assembly.
/// </remarks>
public sealed class HttpGateway : ILocalEndpoint, IAsyncDisposable
{
    private readonly ConcurrentDictionary<uint, OutboundExchange> _outbound = new();
    private readonly ConcurrentDictionary<(uint Caller, uint Sid), InboundExchange> _inbound = new();
    private readonly EgressServer? _egress;
    private readonly AppForwarder? _app;
    private ISidecarPort? _port;
    private int _stopped;

    /// <summary>Creates the gateway; nothing listens until <see cref="StartAsync"/>.</summary>
    public HttpGateway(HttpGatewayOptions options, IHttpForwarder forwarder, ILoggerFactory loggers, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(forwarder);
        ArgumentNullException.ThrowIfNull(loggers);
        Options = options;
        Windows = new WindowBudget(options.Window, options.BufferBudget);
        Forwarder = forwarder;
        Loggers = loggers;
        Logger = loggers.CreateLogger("Kaze.Http");
        if (options.Port is not null)
        {
            _egress = new EgressServer(this, services);
        }

        if (options.AppPort is not null)
        {
            _app = new AppForwarder(this);
        }
    }

    /// <summary>The loopback port apps call the mesh through, once started; null when there is none.</summary>
    public int? Port => _egress?.BoundPort;

    /// <summary>What the gateway counted.</summary>
    public HttpCounters Counters { get; } = new();

    internal HttpGatewayOptions Options { get; }

    /// <summary>The window each body gets: <c>http:window</c>, shared out of <c>http:bufferBudget</c> when many bodies are open.</summary>
    internal WindowBudget Windows { get; }

    internal IHttpForwarder Forwarder { get; }

    internal ILoggerFactory Loggers { get; }

    internal ILogger Logger { get; }

    internal ISidecarPort Mesh => _port ?? throw new InvalidOperationException("The gateway is not connected to its node.");

    /// <summary>The request and head timeout in milliseconds, as carried in <c>Hdr.timeout</c>.</summary>
    internal uint TimeoutMilliseconds => (uint)Math.Clamp(Options.Timeout.TotalMilliseconds, 1, uint.MaxValue);

    internal AppForwarder? App => _app;

    /// <summary>Gives the gateway its node's port (what <c>SidecarNode.Attach</c> returned); before <see cref="StartAsync"/>.</summary>
    public void Connect(ISidecarPort port)
    {
        ArgumentNullException.ThrowIfNull(port);
        _port = port;
    }

    /// <summary>Binds the loopback port (if configured): when this returns, <see cref="Port"/> is set and the host may call it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_port is null)
        {
            throw new InvalidOperationException("Connect the gateway to its node before starting it.");
        }

        if (_app is not null)
        {
            HttpLog.ForwardingTo(Logger, _app.Prefix);
        }

        if (_egress is not null)
        {
            await _egress.StartAsync(Options.Port!.Value, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the loopback port and aborts every exchange still running.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        if (_egress is not null)
        {
            await _egress.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (OutboundExchange exchange in _outbound.Values)
        {
            exchange.Abort("the sidecar is stopping", notify: true);
        }

        foreach (InboundExchange exchange in _inbound.Values)
        {
            exchange.Abort("the sidecar is stopping", notify: true);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_egress is not null)
        {
            await _egress.DisposeAsync().ConfigureAwait(false);
        }

        _app?.Dispose();
    }

    /// <inheritdoc/>
    public EndpointClaim Claim(string bodyType) => HttpBodyTypes.Claim(bodyType);

    /// <inheritdoc/>
    public void Deliver(Packet packet)
    {
        try
        {
            switch (packet.Header.BodyType)
            {
                case HttpBodyTypes.Request:
                    Accept(packet, single: false);
                    break;
                case HttpBodyTypes.Http:
                    Accept(packet, single: true);
                    break;
                case HttpBodyTypes.Up:
                    OnUp(packet);
                    break;
                case HttpBodyTypes.Down:
                    OnDown(packet);
                    break;
                default:
                    // A kaze.http.rsp that is not an answer the tracker knows: late, or not ours.
                    Interlocked.Increment(ref Counters.Stray);
                    packet.Dispose();
                    break;
            }
        }
        catch (Exception e)
        {
            // Never let a bad packet take the node's reader down.
            HttpLog.Unexpected(Logger, e);
            packet.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Undeliverable(Packet packet)
    {
        Hdr header = packet.Header;
        if (HttpEntries.TryGetNumber(header.Headers, HttpEntries.Stream, uint.MaxValue, out ulong sid, out bool valid) && valid)
        {
            if (header.BodyType == HttpBodyTypes.Up && _outbound.TryGetValue((uint)sid, out OutboundExchange? outbound))
            {
                outbound.Abort("the connection to " + outbound.Node + " failed", notify: false);
            }
            else if (header.BodyType == HttpBodyTypes.Down && _inbound.TryGetValue((header.DstIdent, (uint)sid), out InboundExchange? inbound))
            {
                inbound.Abort("the connection to " + new Ident(header.DstIdent) + " failed", notify: false);
            }
        }
        else if (header.BodyType == HttpBodyTypes.Response && _inbound.TryGetValue((header.DstIdent, header.Rsp), out InboundExchange? inbound))
        {
            inbound.Abort("the connection to the caller failed", notify: false);
        }

        packet.Dispose();
    }

    /// <summary>Sends a packet of an exchange; false (packet gone) when it could not be queued.</summary>
    internal bool Send(Hdr header, ReadOnlySpan<byte> body)
    {
        if (_port is not { } port)
        {
            return false;
        }

        header.SrcIdent = port.Self.Value;
        return port.Send(Packet.Create(header, body)) == RetCode.Ok;
    }

    internal bool Register(uint sid, OutboundExchange exchange) => _outbound.TryAdd(sid, exchange);

    internal void Remove(uint sid, OutboundExchange exchange) => _outbound.TryRemove(new KeyValuePair<uint, OutboundExchange>(sid, exchange));

    internal void Remove((uint Caller, uint Sid) key, InboundExchange exchange) => _inbound.TryRemove(new KeyValuePair<(uint, uint), InboundExchange>(key, exchange));

    internal int InboundCount => _inbound.Count;

    internal bool Register((uint Caller, uint Sid) key, InboundExchange exchange) => _inbound.TryAdd(key, exchange);

    private void Accept(Packet packet, bool single)
    {
        if (Volatile.Read(ref _stopped) != 0 || _port is null)
        {
            Refuse(packet, RetCode.Unreachable, "the sidecar is stopping");
            return;
        }

        if (_app is null)
        {
            InboundExchange.AnswerError(this, packet, single, 502, "NO_APP", "this node has no HTTP app (start its kaze with --app-port)");
            Interlocked.Increment(ref Counters.IngressRefused);
            packet.Dispose();
            return;
        }

        _app.Accept(packet, single);
    }

    /// <summary>Answers a request packet with a bare RetCode (no HTTP response), and drops it.</summary>
    internal void Refuse(Packet packet, RetCode code, string reason)
    {
        Hdr header = packet.Header;
        Interlocked.Increment(ref Counters.IngressRefused);
        HttpLog.Refused(Logger, new Ident(header.SrcIdent).ToString(), reason);
        if (header.ExpectsResponse)
        {
            Hdr response = Hdr.CreateResponse(header, code);
            Send(response, ReadOnlySpan<byte>.Empty);
        }

        packet.Dispose();
    }

    private void OnUp(Packet packet)
    {
        Hdr header = packet.Header;
        if (!TryGetStream(packet, out uint sid))
        {
            return;
        }

        if (_inbound.TryGetValue((header.SrcIdent, sid), out InboundExchange? exchange))
        {
            exchange.OnUp(packet);
            return;
        }

        Stray(packet, sid, HttpBodyTypes.Down);
    }

    private void OnDown(Packet packet)
    {
        Hdr header = packet.Header;
        if (!TryGetStream(packet, out uint sid))
        {
            return;
        }

        if (_outbound.TryGetValue(sid, out OutboundExchange? exchange) && exchange.IsFrom(header.SrcIdent))
        {
            exchange.OnDown(packet);
            return;
        }

        Stray(packet, sid, HttpBodyTypes.Up);
    }

    private bool TryGetStream(Packet packet, out uint sid)
    {
        if (HttpEntries.TryGetNumber(packet.Header.Headers, HttpEntries.Stream, uint.MaxValue, out ulong value, out bool valid) && valid)
        {
            sid = (uint)value;
            return true;
        }

        sid = 0;
        Interlocked.Increment(ref Counters.Violations);
        HttpLog.NoExchange(Logger, packet.Header.BodyType, new Ident(packet.Header.SrcIdent).ToString());
        packet.Dispose();
        return false;
    }

    /// <summary>
    /// A packet for an exchange this gateway does not have (over already, or never ours): dropped;
    /// if it carried body bytes the sender still thinks the exchange runs, so it is told to stop
    /// (a reset, never in answer to a reset).
    /// </summary>
    private void Stray(Packet packet, uint sid, string replyType)
    {
        Hdr header = packet.Header;
        Interlocked.Increment(ref Counters.Stray);
        HttpLog.NoExchange(Logger, header.BodyType, new Ident(header.SrcIdent).ToString());
        if (packet.BodyLength > 0 && !header.Headers.ContainsKey(HttpEntries.Reset))
        {
            var reset = new Hdr { BodyType = replyType, Version = ProtocolVersion.Current, DstIdent = header.SrcIdent };
            HttpEntries.PutNumber(reset.Headers, HttpEntries.Stream, sid);
            HttpEntries.PutText(reset.Headers, HttpEntries.Reset, "no such exchange");
            Send(reset, ReadOnlySpan<byte>.Empty);
        }

        packet.Dispose();
    }
}
