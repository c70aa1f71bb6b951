using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Kaze.Core;
using Kaze.Host.Calls;
using Kaze.Host.Dispatch;
using Kaze.Host.Transport;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Host;

/// <summary>
/// A host's connection to its sidecar: send notifies, call other nodes, and answer their requests
/// with handlers registered per body type. Thread-safe: any thread may send and call.
/// </summary>
/// <remarks>
/// <para>
/// One dedicated reader thread reads what the sidecar sends. It completes waiting calls (their
/// continuations run on the thread pool, or on the reader itself with
/// <see cref="KazeClientOptions.CompleteCallsInline"/>) and runs handlers: a handler whose
/// <see cref="ValueTask{TResult}"/> completes synchronously is answered inline on that thread, with
/// the lowest latency, so keep synchronous handlers short; a handler that awaits runs on without
/// holding up the reader.
/// </para>
/// <para>
/// Writes go straight into the ring when it has room. When it is full they are queued and a
/// drainer thread moves them in, in order; the reader thread never waits for ring space (a host
/// and a sidecar that both waited on a full ring would deadlock). <c>SendAsync</c> and
/// <c>CallAsync</c> wait only when the queue is at <see cref="KazeClientOptions.MaxQueuedPackets"/>.
/// </para>
/// <para>
/// Outcomes are values: a call completes with a <see cref="KazeResponse"/> whose
/// <see cref="KazeResponse.Code"/> is the callee's, or <see cref="RetCode.Timeout"/> when no response
/// came in time, or <see cref="RetCode.Unreachable"/> when the channel ended. Exceptions are for
/// misuse (arguments, use after dispose) and for cancellation through a token.
/// </para>
/// </remarks>
public sealed class KazeClient : IDisposable, IAsyncDisposable
{
    /// <summary>The code answered to a request whose body type has no handler: NO_HANDLER (4).</summary>
    public const RetCode NoHandlerCode = RetCode.NoHandler;

    /// <summary>The code answered when a handler throws: HANDLER_FAILED (5).</summary>
    public const RetCode HandlerFailedCode = RetCode.HandlerFailed;

    /// <summary>The code answered when a handler's reply is larger than the channel carries.</summary>
    public const RetCode ReplyTooLargeCode = RetCode.ResourceExhausted;

    // How long Dispose waits for the reader thread (busy in a synchronous handler, at worst).
    private static readonly TimeSpan ReaderJoinTimeout = TimeSpan.FromSeconds(5);

    private readonly IHostTransport _transport;
    private readonly KazeClientOptions _options;
    private readonly ILogger _logger;
    private readonly RecordSender _sender;
    private readonly PendingCallTable _calls;
    private readonly HandlerTable _handlers = new();
    // Cancelled (on the thread pool) when the sidecar's kaze.exit notify arrives.
    private readonly CancellationTokenSource _exitRequested = new();
    // Cancelled when the client is disposed: the token handlers get.
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<ChannelStatus> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Guards _idle; running handlers are counted in _inFlight.
    private readonly Lock _idleLock = new();
    private TaskCompletionSource? _idle;
    private int _inFlight;
    private Thread? _reader;
    // Last sequence number handed out (its lower 31 bits are the sequence); 0 is skipped.
    private uint _sequence;
    private int _started;
    private int _disposed;
    // Set (on the reader thread) when a handler running inline disposed the client.
    private bool _disposedOnReader;
    // SIGTERM and SIGINT handlers while started (KazeClientOptions.HandleStopSignals).
    private PosixSignalRegistration[] _signals = [];
    // Whether Dispose saw the drainer stop; if not, the mapping is never unmapped.
    private volatile bool _drainerStopped = true;
    // Reader thread only: the header each record is decoded into. Responses without headers reuse
    // it; a request's header goes to its handler, and a fresh one takes its place.
    private Hdr _readHeader = new();
    // Malformed packets from the sidecar (reader thread only), and a few log lines a second about them.
    private long _malformed;
    private readonly Kaze.Core.Diagnostics.LogRateLimiter _malformedLog = new();

    // Per thread: the header a send fills and encodes. The sender copies it into the ring (or a
    // queued buffer) before returning, so it is free again at once; a send that must wait for
    // queue space takes a clone.
    [ThreadStatic]
    private static Hdr? t_sendHeader;

    internal KazeClient(IHostTransport transport, Ident localIdent, KazeClientOptions? options, ILoggerFactory? loggerFactory)
    {
        options ??= new KazeClientOptions();
        options.Validate();
        _transport = transport;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kaze.Host");
        LocalIdent = localIdent;
        _sender = new RecordSender(transport, options.MaxQueuedPackets);
        _calls = new PendingCallTable(options.CompleteCallsInline);
        HostLog.Connected(_logger, transport.Name, localIdent);
    }

    /// <summary>This node's ident (what the sidecar stamps on everything this host sends).</summary>
    public Ident LocalIdent { get; }

    /// <summary>The channel's name.</summary>
    public string ChannelName => _transport.Name;

    /// <summary>The largest packet (header and body, framed) the channel carries; larger ones are refused.</summary>
    public int MaxPacketSize => _transport.MaxRecordLength;

    /// <summary>Calls waiting for their response.</summary>
    public int PendingCallCount => _calls.Count;

    /// <summary>Packets waiting for ring space.</summary>
    public int QueuedPacketCount => _sender.QueuedCount;

    /// <summary>
    /// Cancelled when this host should exit: the sidecar asks it to (its <c>kaze.exit</c> notify), a
    /// SIGTERM or SIGINT came (<see cref="KazeClientOptions.HandleStopSignals"/>), or the channel
    /// ended (the sidecar died or closed it; <see cref="Completion"/> is then complete already).
    /// Finish what is in flight and exit.
    /// </summary>
    /// <remarks>Callbacks run on the thread pool, never on the reader thread. The sidecar kills the host when its grace period (default 5 s) is over.</remarks>
    public CancellationToken ExitRequested => _exitRequested.Token;

    /// <summary>Whether the sidecar has asked this host to exit.</summary>
    public bool IsExitRequested => _exitRequested.IsCancellationRequested;

    /// <summary>
    /// Completes when the channel has ended and every waiting call has failed: <see cref="ChannelStatus.Closed"/>
    /// (the sidecar closed it, or this client was disposed), <see cref="ChannelStatus.PeerGone"/> (the
    /// sidecar died; noticed within 200 ms) or <see cref="ChannelStatus.Corrupt"/>.
    /// </summary>
    public Task<ChannelStatus> Completion => _completion.Task;

    /// <summary>
    /// Connects to the sidecar named by <c>KAZE_CHANNEL</c>, <c>KAZE_IDENT</c> and <c>KAZE_SIDECAR_PID</c>
    /// (set by <c>kaze run</c>). Call <see cref="Start"/> after registering handlers.
    /// </summary>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <returns>The client, connected but not started.</returns>
    /// <exception cref="KazeEnvironmentException">A variable is missing or invalid; the message names it and says to use <c>kaze run</c>.</exception>
    /// <exception cref="ChannelException">The channel cannot be opened (missing, not a channel, another host attached).</exception>
    /// <exception cref="KazeSidecarGoneException">The channel's sidecar is not running (a stale file).</exception>
    public static KazeClient ConnectFromEnvironment(KazeClientOptions? options = null, ILoggerFactory? loggerFactory = null) =>
        Connect(SidecarEndpoint.FromEnvironment(), options, loggerFactory);

    /// <summary>Connects to the sidecar at <paramref name="endpoint"/>. Call <see cref="Start"/> after registering handlers.</summary>
    /// <param name="endpoint">The channel and this node's ident.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="loggerFactory">Where to log; null for nowhere.</param>
    /// <returns>The client, connected but not started.</returns>
    /// <exception cref="ChannelException">The channel cannot be opened (missing, not a channel, another host attached).</exception>
    /// <exception cref="KazeSidecarGoneException">The channel's sidecar is not running (a stale file).</exception>
    public static KazeClient Connect(SidecarEndpoint endpoint, KazeClientOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        options?.Validate();
        ShmHostTransport transport = ShmHostTransport.Open(endpoint.ChannelName);
        try
        {
            // A file whose sidecar is dead is stale: refuse it now rather than end on the first wait
            // (docs/shm-format.md, "Open (host)"; hosts/python says the same in the same words).
            if (!transport.IsSidecarAlive)
            {
                throw new KazeSidecarGoneException(transport.FilePath, transport.SidecarPid);
            }

            var client = new KazeClient(transport, endpoint.Ident, options, loggerFactory);
            int actual = transport.SidecarPid;
            if (endpoint.SidecarPid != 0 && actual != endpoint.SidecarPid)
            {
                HostLog.SidecarPidMismatch(client._logger, endpoint.SidecarPid, endpoint.ChannelName, actual);
            }

            return client;
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }

    /// <summary>Starts the reader thread: from now on, requests reach their handlers and calls get responses.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The client is already started.");
        }

        if (_options.HandleStopSignals)
        {
            // SIGTERM and SIGINT become the graceful exit kaze.exit asks for (docs/host-protocol.md 5).
            _signals =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal),
                PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal),
            ];
        }

        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "kaze-host-read " + _transport.Name };
        _reader.Start();
    }

    /// <summary>
    /// Registers the handler of <paramref name="bodyType"/>, before or after <see cref="Start"/>. It gets
    /// requests (its reply is the response: sent to the request's source with its sequence) and
    /// notifies (its reply is discarded). A request with no handler is answered <see cref="NoHandlerCode"/>.
    /// </summary>
    /// <param name="bodyType">The body type, e.g. "echo".</param>
    /// <param name="handler">
    /// The handler. Its token is cancelled when the client is disposed. If it throws, the request is
    /// answered <see cref="HandlerFailedCode"/> and the exception is logged.
    /// </param>
    /// <exception cref="InvalidOperationException">The body type already has a handler.</exception>
    /// <exception cref="ArgumentException"><paramref name="bodyType"/> is <c>kaze.exit</c>, which the client handles itself.</exception>
    public void AddHandler(string bodyType, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler) => _handlers.Add(bodyType, handler);

    /// <summary>Removes the handler of <paramref name="bodyType"/>; requests for it are answered <see cref="NoHandlerCode"/> from now on.</summary>
    /// <param name="bodyType">The body type.</param>
    /// <returns>Whether there was one.</returns>
    public bool RemoveHandler(string bodyType) => _handlers.Remove(bodyType);

    /// <summary>Sends a notify: a one-way packet with no response.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for this host itself.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body; copied before this returns or completes.</param>
    /// <param name="headers">Headers to attach, or null.</param>
    /// <param name="cancellationToken">Ends a wait for queue space.</param>
    /// <returns>
    /// True when the packet is in the ring or queued for it (delivery is not confirmed: a notify has no
    /// response); false when the channel has ended. Completes synchronously unless the send queue is full.
    /// </returns>
    /// <exception cref="ArgumentException">The packet is larger than <see cref="MaxPacketSize"/>.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting for queue space.</exception>
    public ValueTask<bool> SendAsync(Ident destination, string bodyType, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, ByteString>? headers = null, CancellationToken cancellationToken = default) =>
        SendAsync(KazeRoute.Node(destination), bodyType, body, headers, cancellationToken);

    /// <summary>Sends a notify along <paramref name="route"/>: one node, a random node of a group, every node of a group, or a list of nodes.</summary>
    /// <param name="route">Where the notify goes (see <see cref="KazeRoute"/>); a broadcast never comes back to this host.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body; copied before this returns or completes.</param>
    /// <param name="headers">Headers to attach, or null.</param>
    /// <param name="cancellationToken">Ends a wait for queue space.</param>
    /// <returns>
    /// True when the packet is in the ring or queued for it (delivery is not confirmed: a notify has no
    /// response, and a notify the sidecar cannot route is dropped); false when the channel has ended.
    /// Completes synchronously unless the send queue is full.
    /// </returns>
    /// <exception cref="ArgumentException">The packet is larger than <see cref="MaxPacketSize"/>.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting for queue space.</exception>
    public ValueTask<bool> SendAsync(KazeRoute route, string bodyType, ReadOnlyMemory<byte> body, IReadOnlyDictionary<string, ByteString>? headers = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Hdr header = SendHeader().ResetAsNotify(Ident.Any, bodyType);
        route.ApplyTo(header);
        AddHeaders(header, headers);
        int size = CheckedSize(header, body.Length);
        return _sender.TryWrite(header, body.Span, size, bypassLimit: false) switch
        {
            SendResult.Written or SendResult.Queued => new ValueTask<bool>(true),
            SendResult.Closed => new ValueTask<bool>(false),
            _ => SendSlowAsync(header.Clone(), body, size, cancellationToken),
        };
    }

    /// <summary>
    /// Calls <paramref name="destination"/>: sends a request and waits for its response, up to
    /// <paramref name="timeout"/>. Never throws for the call's outcome (see <see cref="KazeResponse"/>).
    /// </summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for this host itself.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body; copied before this returns or completes.</param>
    /// <param name="timeout">How long to wait; null for <see cref="KazeClientOptions.DefaultCallTimeout"/>. Sent to the callee too.</param>
    /// <param name="headers">Headers to attach, or null.</param>
    /// <param name="cancellationToken">Abandons the call: the task throws <see cref="OperationCanceledException"/> and a later response is dropped.</param>
    /// <returns>The response, or a local <see cref="RetCode.Timeout"/> / <see cref="RetCode.Unreachable"/>. Await it once.</returns>
    /// <exception cref="ArgumentException">The packet is larger than <see cref="MaxPacketSize"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is under 1 ms or over <see cref="uint.MaxValue"/> ms.</exception>
    /// <exception cref="InvalidOperationException">The client is not started (no reader would see the response).</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public ValueTask<KazeResponse> CallAsync(Ident destination, string bodyType, ReadOnlyMemory<byte> body, TimeSpan? timeout = null, IReadOnlyDictionary<string, ByteString>? headers = null, CancellationToken cancellationToken = default) =>
        CallAsync(KazeRoute.Node(destination), bodyType, body, timeout, headers, cancellationToken);

    /// <summary>
    /// Calls along <paramref name="route"/>: sends a request and waits for one response, up to
    /// <paramref name="timeout"/>. Never throws for the call's outcome (see <see cref="KazeResponse"/>).
    /// </summary>
    /// <param name="route">
    /// Where the request goes (see <see cref="KazeRoute"/>). A random route is answered by the node
    /// picked; a broadcast or multicast by the first node to answer (<see cref="KazeResponse.Source"/>
    /// says which), the other answers are dropped.
    /// </param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body; copied before this returns or completes.</param>
    /// <param name="timeout">How long to wait; null for <see cref="KazeClientOptions.DefaultCallTimeout"/>. Sent to the callee too.</param>
    /// <param name="headers">Headers to attach, or null.</param>
    /// <param name="cancellationToken">Abandons the call: the task throws <see cref="OperationCanceledException"/> and a later response is dropped.</param>
    /// <returns>The response, or a local <see cref="RetCode.Timeout"/> / <see cref="RetCode.Unreachable"/>. Await it once.</returns>
    /// <exception cref="ArgumentException">The packet is larger than <see cref="MaxPacketSize"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is under 1 ms or over <see cref="uint.MaxValue"/> ms.</exception>
    /// <exception cref="InvalidOperationException">The client is not started (no reader would see the response).</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public ValueTask<KazeResponse> CallAsync(KazeRoute route, string bodyType, ReadOnlyMemory<byte> body, TimeSpan? timeout = null, IReadOnlyDictionary<string, ByteString>? headers = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_started == 0)
        {
            ThrowHelper.ThrowNotStarted();
        }

        uint timeoutMs = ToMilliseconds(timeout ?? _options.DefaultCallTimeout);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<KazeResponse>(cancellationToken);
        }

        PendingCall call = _calls.Rent();
        long deadline = Environment.TickCount64 + timeoutMs;
        bool closed;
        do
        {
            call.Initialize(NextSequence(), deadline);
        }
        while (!_calls.TryAdd(call, out closed) && !closed);

        if (closed)
        {
            _calls.Return(call);
            return new ValueTask<KazeResponse>(KazeResponse.Local(RetCode.Unreachable));
        }

        Hdr header;
        int size;
        try
        {
            header = SendHeader().ResetAsRequest(Ident.Any, bodyType, call.Sequence, timeoutMs);
            route.ApplyTo(header);
            AddHeaders(header, headers);
            size = CheckedSize(header, body.Length);
        }
        catch
        {
            _calls.Remove(call);
            _calls.Return(call);
            throw;
        }

        ValueTask<KazeResponse> result = call.AsValueTask();
        call.RegisterCancellation(cancellationToken);
        switch (_sender.TryWrite(header, body.Span, size, bypassLimit: false))
        {
            case SendResult.Written:
            case SendResult.Queued:
                return result;
            case SendResult.Closed:
                FailCall(call, RetCode.Unreachable);
                return result;
            default:
                return CallSlowAsync(call, result, header.Clone(), body, size, cancellationToken);
        }
    }

    /// <summary>
    /// Stops gracefully: waits for handlers still running and for queued packets to reach the ring
    /// (until <paramref name="cancellationToken"/> fires), then closes the channel as <see cref="Dispose"/> does.
    /// </summary>
    /// <param name="cancellationToken">Cuts the wait short; the channel is closed either way.</param>
    /// <returns>A task that completes when the channel is closed.</returns>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed != 0)
        {
            return;
        }

        try
        {
            await WaitForHandlersAsync(cancellationToken).ConfigureAwait(false);
            await _sender.WaitForEmptyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Out of time: close with what is left.
        }

        Dispose();
    }

    /// <summary>
    /// Closes the channel (the sidecar sees the host's end closed), fails waiting calls with
    /// <see cref="RetCode.Unreachable"/>, cancels handlers' tokens, stops the threads and unmaps the
    /// channel. The file is the sidecar's and is left alone.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (PosixSignalRegistration registration in _signals)
        {
            registration.Dispose();
        }

        _stopping.Cancel();
        _transport.Close();
        // The drainer may be inside the ring; if it does not stop, the mapping stays.
        _drainerStopped = _sender.Close();
        _calls.Dispose();
        Thread? reader = _reader;
        if (reader is null)
        {
            _completion.TrySetResult(ChannelStatus.Closed);
            ReleaseMapping();
        }
        else if (Thread.CurrentThread != reader)
        {
            // The reader sees Closed at once (Close wakes it), unless a synchronous handler hangs on
            // it: then the mapping is left in place rather than pulled from under that handler.
            if (reader.Join(ReaderJoinTimeout))
            {
                ReleaseMapping();
            }
            else
            {
                _transport.Detach();
            }
        }

        else
        {
            // Disposed from a handler on the reader thread: the reader unmaps when it unwinds to its loop.
            _disposedOnReader = true;
        }
    }

    /// <summary>Same as <see cref="Dispose"/>; the threads are joined on the thread pool.</summary>
    /// <returns>A task that completes when the client is disposed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_reader is not null && Thread.CurrentThread != _reader)
        {
            await Task.Run(Dispose).ConfigureAwait(false);
        }
        else
        {
            Dispose();
        }
    }

    private async ValueTask<bool> SendSlowAsync(Hdr header, ReadOnlyMemory<byte> body, int size, CancellationToken ct)
    {
        while (true)
        {
            await _sender.WaitForQueueSpaceAsync(ct).ConfigureAwait(false);
            switch (_sender.TryWrite(header, body.Span, size, bypassLimit: false))
            {
                case SendResult.Written:
                case SendResult.Queued:
                    return true;
                case SendResult.Closed:
                    return false;
            }
        }
    }

    private async ValueTask<KazeResponse> CallSlowAsync(PendingCall call, ValueTask<KazeResponse> result, Hdr header, ReadOnlyMemory<byte> body, int size, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await _sender.WaitForQueueSpaceAsync(ct).ConfigureAwait(false);
                if (result.IsCompleted)
                {
                    // Timed out (or the channel ended) while waiting for room: do not send it late.
                    break;
                }

                SendResult sent = _sender.TryWrite(header, body.Span, size, bypassLimit: false);
                if (sent == SendResult.Closed)
                {
                    FailCall(call, RetCode.Unreachable);
                }

                if (sent != SendResult.QueueFull)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The call's own cancellation registration completes it.
        }

        return await result.ConfigureAwait(false);
    }

    private void FailCall(PendingCall call, RetCode code)
    {
        if (_calls.Remove(call))
        {
            call.Complete(KazeResponse.Local(code));
        }
    }

    private static Hdr SendHeader() => t_sendHeader ??= new Hdr();

    // Sequences stay in the lower half (1 to 0x7FFFFFFF): the sidecar numbers its own requests
    // (the HTTP gateway's) in the upper half, and refuses a host request that takes one of those
    // in flight (docs/host-protocol.md, "Sequence numbers").
    private uint NextSequence()
    {
        uint sequence = Interlocked.Increment(ref _sequence) & 0x7FFF_FFFF;
        return sequence != 0 ? sequence : Interlocked.Increment(ref _sequence) & 0x7FFF_FFFF;
    }

    private int CheckedSize(Hdr header, int bodyLength)
    {
        int size = RingFraming.GetPayloadSize(header, bodyLength);
        if (size > _transport.MaxRecordLength)
        {
            ThrowHelper.ThrowTooLarge(header.BodyType, size, _transport.MaxRecordLength);
        }

        return size;
    }

    private static uint ToMilliseconds(TimeSpan timeout)
    {
        double ms = Math.Ceiling(timeout.TotalMilliseconds);
        if (ms < 1 || ms > uint.MaxValue)
        {
            ThrowHelper.ThrowBadTimeout(timeout);
        }

        return (uint)ms;
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

    private void ReadLoop()
    {
        int batch = _options.ReleaseBatch;
        int unreleased = 0;
        ChannelStatus status;
        try
        {
            while (true)
            {
                status = _transport.TryRead(out ReadOnlySpan<byte> record);
                if (status == ChannelStatus.Ok)
                {
                    OnRecord(record);
                    if (++unreleased >= batch)
                    {
                        _transport.Release();
                        unreleased = 0;
                    }

                    continue;
                }

                // Give the space back before sleeping: the sidecar may be waiting for exactly that.
                _transport.Release();
                unreleased = 0;
                if (status == ChannelStatus.Empty)
                {
                    status = _transport.WaitToRead(Timeout.InfiniteTimeSpan);
                    if (status == ChannelStatus.Ok)
                    {
                        continue;
                    }
                }

                break;
            }
        }
        catch (Exception e)
        {
            // A bug here must not leave callers hanging: end the channel as if it were corrupt.
            HostLog.ReaderFailed(_logger, e, _transport.Name);
            _transport.Close();
            status = ChannelStatus.Corrupt;
        }

        OnChannelEnded(status);
    }

    private void OnRecord(ReadOnlySpan<byte> record)
    {
        Hdr header = _readHeader;
        if (!RingFraming.TryDecodeInto(record, header, out ReadOnlySpan<byte> body, out DecodeError error))
        {
            _malformed++;
            if (_malformedLog.TryAcquire(out long suppressed))
            {
                HostLog.Malformed(_logger, record.Length, error.ToMessage(), _malformed, suppressed > 0 ? $", {suppressed} more not logged before this one" : "");
            }

            return;
        }

        if (header.RpcTypeCase != Hdr.RpcTypeOneofCase.Rsp || header.Headers.Count != 0)
        {
            // The header outlives this record: the request's handler or the response's caller keeps it.
            _readHeader = new Hdr();
        }

        if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp)
        {
            OnResponse(header, body);
        }
        else
        {
            OnRequest(header, body);
        }
    }

    private void OnResponse(Hdr header, ReadOnlySpan<byte> body)
    {
        PendingCall? call = _calls.TryRemove(header.Rsp);
        if (call is null)
        {
            HostLog.LateResponse(_logger, header.Rsp);
            return;
        }

        byte[] copy = body.IsEmpty ? [] : body.ToArray();
        call.Complete(new KazeResponse((RetCode)header.RetCode, copy, header.BodyType, header.Headers.Count == 0 ? null : header.Headers, new Ident(header.SrcIdent), isLocal: false));
    }

    private void OnRequest(Hdr header, ReadOnlySpan<byte> body)
    {
        if (header.BodyType == ControlBodyTypes.Exit && !header.ExpectsResponse)
        {
            OnExitRequest(header);
            return;
        }

        Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>? handler = _handlers.Find(header.BodyType);
        if (handler is null)
        {
            if (header.ExpectsResponse)
            {
                HostLog.NoHandlerForRequest(_logger, header.BodyType, new Ident(header.SrcIdent), NoHandlerCode);
                Respond(header, KazeReply.Error(NoHandlerCode));
            }
            else
            {
                HostLog.NoHandlerForNotify(_logger, header.BodyType, new Ident(header.SrcIdent));
            }

            return;
        }

        // The record goes back to the sidecar soon; the handler gets a pooled copy for as long as it runs.
        byte[] buffer = body.IsEmpty ? [] : ArrayPool<byte>.Shared.Rent(body.Length);
        body.CopyTo(buffer);
        var request = new KazeRequest(header, new ReadOnlyMemory<byte>(buffer, 0, body.Length));
        ValueTask<KazeReply> pending;
        // Counted before it runs: StopAsync, called as soon as the handler has started, must wait for it.
        Interlocked.Increment(ref _inFlight);
        try
        {
            pending = handler(request, _stopping.Token);
        }
        catch (Exception e)
        {
            HandlerFailed(header, e);
            ReturnBuffer(buffer);
            LeaveHandler();
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            // The fast path: answered inline on the reader thread, which never waits for ring space.
            Respond(header, pending.Result);
            ReturnBuffer(buffer);
            LeaveHandler();
            return;
        }

        _ = CompleteHandlerAsync(pending, header, buffer);
    }

    private async Task CompleteHandlerAsync(ValueTask<KazeReply> pending, Hdr header, byte[] buffer)
    {
        try
        {
            KazeReply reply = await pending.ConfigureAwait(false);
            Respond(header, reply);
        }
        catch (Exception e)
        {
            HandlerFailed(header, e);
        }
        finally
        {
            ReturnBuffer(buffer);
            LeaveHandler();
        }
    }

    private void LeaveHandler()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            lock (_idleLock)
            {
                _idle?.TrySetResult();
                _idle = null;
            }
        }
    }

    private void HandlerFailed(Hdr header, Exception e)
    {
        HostLog.HandlerFailed(_logger, e, header.BodyType, new Ident(header.SrcIdent), HandlerFailedCode);
        Respond(header, KazeReply.Error(HandlerFailedCode));
    }

    private void Respond(Hdr request, in KazeReply reply)
    {
        if (!request.ExpectsResponse)
        {
            return;
        }

        Hdr header = SendHeader().ResetAsResponse(request, reply.Code, reply.BodyType);
        AddHeaders(header, reply.Headers);
        ReadOnlySpan<byte> body = reply.Body.Span;
        int size = RingFraming.GetPayloadSize(header, body.Length);
        if (size > _transport.MaxRecordLength)
        {
            HostLog.ReplyTooLarge(_logger, request.BodyType, size, _transport.MaxRecordLength, ReplyTooLargeCode);
            header = SendHeader().ResetAsResponse(request, ReplyTooLargeCode);
            body = default;
            size = RingFraming.GetPayloadSize(header, 0);
        }

        // Never waits, never refused for a full queue: this may be the reader thread.
        _sender.TryWrite(header, body, size, bypassLimit: true);
    }

    private static void ReturnBuffer(byte[] buffer)
    {
        if (buffer.Length != 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void OnExitRequest(Hdr header)
    {
        var source = new Ident(header.SrcIdent);
        if (source != LocalIdent)
        {
            // The sidecar stamps its own ident on its exit request; another node cannot stop this host.
            HostLog.ForeignExitRequest(_logger, source, LocalIdent);
            return;
        }

        HostLog.ExitRequested(_logger);
        RequestExit();
    }

    private void OnStopSignal(PosixSignalContext context)
    {
        // Not the default action (the process ending with 128+N): the same graceful exit as kaze.exit.
        context.Cancel = true;
        HostLog.StopSignal(_logger, context.Signal.ToString());
        RequestExit();
    }

    private void RequestExit()
    {
        // Callbacks (e.g. the Generic Host's StopApplication) must not run on the reader thread.
        ThreadPool.UnsafeQueueUserWorkItem(static cts =>
        {
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile: nothing left to stop.
            }
        }, _exitRequested, preferLocal: false);
    }

    private async Task WaitForHandlersAsync(CancellationToken ct)
    {
        while (true)
        {
            Task idle;
            lock (_idleLock)
            {
                if (Volatile.Read(ref _inFlight) == 0)
                {
                    return;
                }

                _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                idle = _idle.Task;
            }

            await idle.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Unmaps, unless a thread that did not stop may still touch the mapping.</summary>
    private void ReleaseMapping()
    {
        if (_drainerStopped)
        {
            _transport.Dispose();
        }
        else
        {
            _transport.Detach();
        }
    }

    private void OnChannelEnded(ChannelStatus status)
    {
        if (status == ChannelStatus.Corrupt && _transport.Corruption is string corruption)
        {
            HostLog.Corrupt(_logger, _transport.Name, corruption);
        }

        if (_disposed != 0)
        {
            HostLog.ChannelEnded(_logger, _transport.Name, status);
        }
        else
        {
            HostLog.SidecarLost(_logger, _transport.Name, status);
        }

        _sender.Close();
        _calls.Close(RetCode.Unreachable);
        _completion.TrySetResult(status);
        if (_disposed == 0)
        {
            // The sidecar is gone or closed the channel: nothing can be sent or received any more,
            // so the host should exit as if asked to (docs/host-protocol.md 5, "Sidecar gone").
            // After Completion, so that a callback can tell the two causes apart.
            RequestExit();
        }
        if (_disposed != 0 && Thread.CurrentThread == _reader && _disposedOnReader)
        {
            // Disposed from a handler on this very thread, which left the unmapping to us: no span
            // into the mapping is alive any more.
            ReleaseMapping();
        }
    }
}
