using System.Threading.Channels;
using Google.Protobuf;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Testing;

/// <summary>
/// A fake sidecar for unit tests of host apps: no sidecar process, no /dev/shm. The app's
/// <see cref="KazeClient"/> (from <see cref="CreateClient"/>) runs its real code over an in-memory
/// channel; the test plays the rest of the mesh.
/// </summary>
/// <remarks>
/// <para>
/// Routing follows the real sidecar: it stamps this node's ident as srcIdent on everything the app
/// sends; a packet for 0.0.0.0 or this ident comes back to the app; a request for a node with a
/// fake handler (<see cref="MapNode"/>) gets that handler's reply, stamped with the node's ident; any
/// other request is answered RET_UNREACHABLE at once, and any other notify is dropped. Only the
/// dstIdent route is modelled.
/// </para>
/// <para>
/// The test sees what the app sent (<see cref="Sent"/>, <see cref="WaitForSentAsync"/>), drives it
/// (<see cref="CallHostAsync"/>, <see cref="NotifyHost"/>, <see cref="RequestExit"/>), and injects
/// failures: <see cref="SetFault"/> per node (drop, so calls time out; unreachable), <see cref="Kill"/>
/// (the sidecar dies) and <see cref="Close"/> (it closes the channel).
/// </para>
/// </remarks>
public sealed class InMemorySidecar : IAsyncDisposable
{
    /// <summary>The largest packet the in-memory channel carries by default: as much as a 1 MiB ring does.</summary>
    public const int DefaultMaxPacketSize = (1 << 19) - 4;

    /// <summary>The node <see cref="CallHostAsync"/> and <see cref="NotifyHost"/> send from when the test names none: 255.255.255.254.</summary>
    public static readonly Ident DefaultCaller = new(0xFFFF_FFFE);

    // Sequence numbers of the sidecar's own requests to the app start high, away from the app's.
    private const uint FirstCallSequence = 0x8000_0000;

    private readonly int _maxPacketSize;
    private readonly RecordQueue _toHost = new();
    private readonly Channel<byte[]> _fromHost = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _hostClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    // Guards everything below.
    private readonly Lock _gate = new();
    private readonly Dictionary<(uint Node, string BodyType), Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>> _nodes = [];
    private readonly Dictionary<uint, InMemoryFault> _faults = [];
    private readonly Dictionary<(uint Caller, uint Sequence), TaskCompletionSource<KazeResponse>> _hostCalls = [];
    private readonly List<SentPacket> _sent = [];
    private readonly List<(Func<SentPacket, bool> Match, TaskCompletionSource<SentPacket> Found)> _sentWaiters = [];
    private uint _sequence = FirstCallSequence;
    private bool _clientCreated;
    private volatile bool _accepting = true;

    /// <summary>Creates the sidecar of node <paramref name="ident"/>.</summary>
    /// <param name="ident">This node's ident; null for 0.0.0.1.</param>
    /// <param name="maxPacketSize">The largest packet the channel carries, like a ring's record limit.</param>
    public InMemorySidecar(Ident? ident = null, int maxPacketSize = DefaultMaxPacketSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacketSize, 64);
        Ident = ident ?? new Ident(1);
        _maxPacketSize = maxPacketSize;
        _loop = Task.Run(ProcessLoopAsync);
    }

    /// <summary>This node's ident, stamped on everything the app sends.</summary>
    public Ident Ident { get; }

    /// <summary>Completes when the app's client has closed its end (disposed or stopped).</summary>
    public Task HostClosed => _hostClosed.Task;

    /// <summary>Packets the app has sent so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<SentPacket> Sent
    {
        get
        {
            lock (_gate)
            {
                return [.. _sent];
            }
        }
    }

    internal bool IsAcceptingFromHost => _accepting;

    /// <summary>Creates the app's client, connected to this sidecar; one per sidecar. Start it as usual.</summary>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="loggerFactory">Where the client logs; null for nowhere.</param>
    /// <returns>The client, connected but not started.</returns>
    /// <exception cref="InvalidOperationException">A client was already created.</exception>
    public KazeClient CreateClient(KazeClientOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        lock (_gate)
        {
            if (_clientCreated)
            {
                throw new InvalidOperationException("This in-memory sidecar already has its host; a channel has one host at a time.");
            }

            _clientCreated = true;
        }

        return new KazeClient(new InMemoryTransport(this, _toHost, _maxPacketSize), Ident, options, loggerFactory);
    }

    /// <summary>Plays node <paramref name="node"/>'s host: its answer to <paramref name="bodyType"/> packets from the app.</summary>
    /// <param name="node">The remote node.</param>
    /// <param name="bodyType">The body type it answers.</param>
    /// <param name="handler">The fake handler; its reply is the response (stamped with <paramref name="node"/>); a throw answers <see cref="KazeClient.HandlerFailedCode"/>.</param>
    public void MapNode(Ident node, string bodyType, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            _nodes[(node.Value, bodyType)] = handler;
        }
    }

    /// <summary>Makes traffic to <paramref name="node"/> fail from now on (or heal, with <see cref="InMemoryFault.None"/>).</summary>
    /// <param name="node">The remote node.</param>
    /// <param name="fault">The failure.</param>
    public void SetFault(Ident node, InMemoryFault fault)
    {
        lock (_gate)
        {
            _faults[node.Value] = fault;
        }
    }

    /// <summary>Waits for the app to send a packet that <paramref name="match"/> accepts (including one sent already).</summary>
    /// <param name="match">The test of a packet; runs under a lock, keep it simple.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>The first matching packet.</returns>
    public async Task<SentPacket> WaitForSentAsync(Func<SentPacket, bool> match, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var found = new TaskCompletionSource<SentPacket>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (SentPacket packet in _sent)
            {
                if (match(packet))
                {
                    return packet;
                }
            }

            _sentWaiters.Add((match, found));
        }

        try
        {
            return await found.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _sentWaiters.RemoveAll(w => w.Found == found);
            }
        }
    }

    /// <summary>Sends the app a request from <paramref name="from"/> and waits for its response.</summary>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body.</param>
    /// <param name="from">The calling node; null for <see cref="DefaultCaller"/>.</param>
    /// <param name="timeout">How long to wait; null for 5 s.</param>
    /// <param name="headers">Headers to attach, or null.</param>
    /// <param name="cancellationToken">Abandons the call.</param>
    /// <returns>The app's response; a local Timeout or Unreachable (channel closed) otherwise.</returns>
    public async Task<KazeResponse> CallHostAsync(string bodyType, ReadOnlyMemory<byte> body, Ident? from = null, TimeSpan? timeout = null, IReadOnlyDictionary<string, ByteString>? headers = null, CancellationToken cancellationToken = default)
    {
        Ident caller = from ?? DefaultCaller;
        TimeSpan wait = timeout ?? TimeSpan.FromSeconds(5);
        var response = new TaskCompletionSource<KazeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint sequence;
        lock (_gate)
        {
            sequence = ++_sequence;
            _hostCalls[(caller.Value, sequence)] = response;
        }

        Hdr header = Hdr.CreateRequest(Ident, bodyType, sequence, (uint)Math.Clamp(Math.Ceiling(wait.TotalMilliseconds), 1, uint.MaxValue));
        header.SrcIdent = caller.Value;
        AddHeaders(header, headers);
        if (!DeliverToHost(header, body.Span))
        {
            RemoveHostCall(caller.Value, sequence);
            return KazeResponse.Local(RetCode.Unreachable);
        }

        try
        {
            return await response.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            RemoveHostCall(caller.Value, sequence);
            return KazeResponse.Local(RetCode.Timeout);
        }
        catch (OperationCanceledException)
        {
            RemoveHostCall(caller.Value, sequence);
            throw;
        }
    }

    /// <summary>Sends the app a notify from <paramref name="from"/>.</summary>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body.</param>
    /// <param name="from">The sending node; null for <see cref="DefaultCaller"/>.</param>
    /// <returns>False if the channel is closed.</returns>
    public bool NotifyHost(string bodyType, ReadOnlySpan<byte> body, Ident? from = null)
    {
        Hdr header = Hdr.CreateNotify(Ident, bodyType);
        header.SrcIdent = (from ?? DefaultCaller).Value;
        return DeliverToHost(header, body);
    }

    /// <summary>Sends the app the sidecar's exit request (the <c>kaze.exit</c> notify), as a sidecar that shuts down does.</summary>
    /// <returns>False if the channel is closed.</returns>
    public bool RequestExit()
    {
        Hdr header = Hdr.CreateNotify(Ident, ControlBodyTypes.Exit);
        header.SrcIdent = Ident.Value;
        return DeliverToHost(header, default);
    }

    /// <summary>The sidecar dies (as if SIGKILLed): the app reads what was sent before, then sees the peer gone.</summary>
    public void Kill() => Stop(Kaze.Core.ChannelStatus.PeerGone);

    /// <summary>The sidecar closes the channel: the app reads what was sent before, then sees it closed.</summary>
    public void Close() => Stop(Kaze.Core.ChannelStatus.Closed);

    /// <summary>Closes the channel and stops processing.</summary>
    /// <returns>A task that completes when the sidecar has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        Close();
        await _loop.ConfigureAwait(false);
    }

    internal void OnHostRecord(byte[] record) => _fromHost.Writer.TryWrite(record);

    internal void OnHostClosed()
    {
        _fromHost.Writer.TryComplete();
        _hostClosed.TrySetResult();
    }

    private void Stop(Kaze.Core.ChannelStatus how)
    {
        _accepting = false;
        _toHost.End(how);
        _fromHost.Writer.TryComplete();
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();
        }
    }

    private async Task ProcessLoopAsync()
    {
        try
        {
            await foreach (byte[] record in _fromHost.Reader.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                Process(record);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Killed or closed: what the app sent last is lost, as with a dead sidecar.
        }
    }

    private void Process(byte[] record)
    {
        if (!RingFraming.TryDecode(record, out Hdr? header, out ReadOnlySpan<byte> span, out _))
        {
            return;
        }

        // The host speaks for this node, whatever it put in srcIdent.
        header.SrcIdent = Ident.Value;
        byte[] body = span.ToArray();
        Recorded(new SentPacket(header, body));

        bool local = header.RouteTypeCase switch
        {
            Hdr.RouteTypeOneofCase.None => true,
            Hdr.RouteTypeOneofCase.DstIdent => header.DstIdent == 0 || header.DstIdent == Ident.Value,
            _ => false,
        };

        if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp)
        {
            if (!CompleteHostCall(header, body) && local)
            {
                DeliverToHost(header, body);
            }

            return;
        }

        if (local)
        {
            DeliverToHost(header, body);
            return;
        }

        Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>? handler = null;
        InMemoryFault fault;
        lock (_gate)
        {
            fault = header.RouteTypeCase == Hdr.RouteTypeOneofCase.DstIdent ? _faults.GetValueOrDefault(header.DstIdent) : InMemoryFault.Unreachable;
            if (fault == InMemoryFault.None)
            {
                _nodes.TryGetValue((header.DstIdent, header.BodyType), out handler);
            }
        }

        if (fault == InMemoryFault.Drop)
        {
            return;
        }

        if (handler is null)
        {
            // As the router: never silence for a request.
            if (header.ExpectsResponse)
            {
                Hdr unreachable = Hdr.CreateResponse(header, RetCode.Unreachable);
                unreachable.SrcIdent = Ident.Value;
                DeliverToHost(unreachable, default);
            }

            return;
        }

        RunNode(handler, header, body);
    }

    private void RunNode(Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler, Hdr header, byte[] body)
    {
        ValueTask<KazeReply> pending;
        try
        {
            pending = handler(new KazeRequest(header, body), _stopping.Token);
        }
        catch (Exception)
        {
            ReplyFromNode(header, KazeReply.Error(KazeClient.HandlerFailedCode));
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            ReplyFromNode(header, pending.Result);
            return;
        }

        _ = CompleteNodeAsync(pending, header);
    }

    private async Task CompleteNodeAsync(ValueTask<KazeReply> pending, Hdr header)
    {
        KazeReply reply;
        try
        {
            reply = await pending.ConfigureAwait(false);
        }
        catch (Exception)
        {
            reply = KazeReply.Error(KazeClient.HandlerFailedCode);
        }

        ReplyFromNode(header, reply);
    }

    private void ReplyFromNode(Hdr request, in KazeReply reply)
    {
        if (!request.ExpectsResponse)
        {
            return;
        }

        Hdr header = Hdr.CreateResponse(request, reply.Code, reply.BodyType);
        header.SrcIdent = request.DstIdent;
        AddHeaders(header, reply.Headers);
        DeliverToHost(header, reply.Body.Span);
    }

    private bool CompleteHostCall(Hdr header, byte[] body)
    {
        TaskCompletionSource<KazeResponse>? call;
        lock (_gate)
        {
            if (!_hostCalls.Remove((header.DstIdent, header.Rsp), out call))
            {
                return false;
            }
        }

        call.TrySetResult(new KazeResponse((RetCode)header.RetCode, body, header.BodyType, header.Headers, new Ident(header.SrcIdent), isLocal: false));
        return true;
    }

    private void RemoveHostCall(uint caller, uint sequence)
    {
        lock (_gate)
        {
            _hostCalls.Remove((caller, sequence));
        }
    }

    private void Recorded(SentPacket packet)
    {
        List<TaskCompletionSource<SentPacket>>? found = null;
        lock (_gate)
        {
            _sent.Add(packet);
            for (int i = _sentWaiters.Count - 1; i >= 0; i--)
            {
                if (_sentWaiters[i].Match(packet))
                {
                    (found ??= []).Add(_sentWaiters[i].Found);
                    _sentWaiters.RemoveAt(i);
                }
            }
        }

        if (found is not null)
        {
            foreach (TaskCompletionSource<SentPacket> waiter in found)
            {
                waiter.TrySetResult(packet);
            }
        }
    }

    private bool DeliverToHost(Hdr header, ReadOnlySpan<byte> body)
    {
        int size = RingFraming.GetPayloadSize(header, body.Length);
        if (size > _maxPacketSize)
        {
            throw new ArgumentException($"A packet of {size} bytes is more than this channel carries ({_maxPacketSize}).", nameof(body));
        }

        byte[] record = new byte[size];
        RingFraming.Write(record, header, body, size);
        return _toHost.TryEnqueue(record);
    }

    private static void AddHeaders(Hdr header, IReadOnlyDictionary<string, ByteString>? headers)
    {
        if (headers is null)
        {
            return;
        }

        foreach (KeyValuePair<string, ByteString> pair in headers)
        {
            header.Headers[pair.Key] = pair.Value;
        }
    }
}
