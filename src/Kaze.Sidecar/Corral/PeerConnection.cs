using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Corral;

/// <summary>How a connection came to be closed on purpose.</summary>
internal enum CloseKind
{
    /// <summary>A failure, counted under its <see cref="ConnectionFailure"/>.</summary>
    Failure,

    /// <summary>Another connection with the same peer is kept; counted as <see cref="ConnectionFailure.Duplicate"/>.</summary>
    Duplicate,

    /// <summary>Nothing moved for the idle timeout; counted as idle, not as a failure.</summary>
    Idle,

    /// <summary>The corral shuts down; not counted.</summary>
    Shutdown,
}

/// <summary>
/// One TCP connection with another sidecar: the handshake, then a reader loop that decodes frames
/// and hands packets on, and a writer loop that drains the peer's session queue, many frames per
/// send.
/// </summary>
/// <remarks>
/// Ending: the first reason recorded wins (<see cref="TryEnd"/>); it is counted and logged once.
/// A bad frame, a failed write or a failed handshake aborts the socket at once. Any other end is
/// graceful: the writer finishes the batch it is sending, shuts down its side (FIN), and the reader
/// goes on delivering until the peer's FIN, so nothing either side wrote before its FIN is lost.
/// <see cref="CorralOptions.CloseTimeout"/> bounds that; then the socket is aborted.
/// </remarks>
internal sealed class PeerConnection
{
    private readonly PeerCorral _corral;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;

    // Used by the handshake, then by the writer loop only.
    private readonly SendBuffer _output = new();

    // Cancelled to abort: pending reads and sends end, the socket is closed.
    private readonly CancellationTokenSource _abort = new();

    // For an outbound connection: the session that dialled, and the ident it must say it has.
    private readonly PeerSession? _dialledFor;

    // Set once the peer's hello is read (for logs); the session once the handshake completed.
    private Ident? _peer;
    private PeerSession? _session;

    // 0 until the first reason to end is recorded (Interlocked), then 1.
    private int _ended;

    // Set by RequestClose and at end of stream; read by the writer under the session lock.
    private volatile bool _stopWriting;

    // Set once the handshake completed.
    private volatile bool _established;

    // Environment.TickCount64 of the last bytes read or written; for the idle timeout.
    private long _lastActivity;

    // 1 once the socket was aborted.
    private int _aborted;

    // 1 once an outbound connection told its session that the dial failed; once per connection.
    private int _dialReported;

    public PeerConnection(PeerCorral corral, Socket socket, ConnectionDirection direction, PeerSession? dialledFor)
    {
        _corral = corral;
        _socket = socket;
        Direction = direction;
        _dialledFor = dialledFor;
        RemoteEndPoint = RemoteOf(socket);
        _stream = new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true));
        _lastActivity = Environment.TickCount64;
    }

    public ConnectionDirection Direction { get; }

    public IPEndPoint? RemoteEndPoint { get; }

    /// <summary>The frame limit agreed in the handshake: the smaller of both sides' maximum.</summary>
    public int MaxFrameSize { get; private set; } = Handshake.MaxHandshakeFrameSize;

    public Doorbell Doorbell { get; } = new();

    public bool StopWriting => _stopWriting;

    public bool IsEstablished => _established;

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public bool IsEnding => Volatile.Read(ref _ended) != 0;

    /// <summary>"address (ident X)", for logs.</summary>
    public string Describe() =>
        $"{RemoteEndPoint?.ToString() ?? "?"} (ident {(_peer is { } peer ? peer.ToString() : "unknown")})";

    /// <summary>Runs the connection to its end: handshake, then reading, with the writer alongside.</summary>
    public async Task RunAsync()
    {
        Task? writer = null;
        try
        {
            PeerHello? hello = await HandshakeAsync().ConfigureAwait(false);
            if (hello is null)
            {
                return;
            }

            _session = _corral.GetSession(hello.Ident);

            // The idle clock starts now, however long the handshake took.
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            _established = true;
            Interlocked.Increment(ref _corral.Counters.Established);
            Interlocked.Increment(ref _corral.Counters.Open);
            CorralLog.Connected(_corral.Logger, Describe(), Direction, hello.Version, MaxFrameSize);
            _session.Attach(this, hello.Version);
            // On the thread pool, never on a caller's synchronization context; a send that waits
            // for a slow peer holds up only this loop.
            PeerSession session = _session;
            writer = Task.Run(() => WriteLoopAsync(session));
            await ReadLoopAsync(_session, hello.Ident).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A bug, not a network condition: those are handled where they happen.
            CorralLog.Unexpected(_corral.Logger, e, Describe());
            TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, e.Message);
        }
        finally
        {
            await FinishAsync(writer).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the connection gracefully (or at once if it has not completed its handshake) for a
    /// reason decided here: a duplicate, the idle timeout, shutdown.
    /// </summary>
    public void RequestClose(CloseKind kind, string reason)
    {
        // The failure argument counts only for CloseKind.Failure, which callers here never pass.
        if (!TryEnd(kind, ConnectionFailure.Duplicate, reason))
        {
            return;
        }

        if (!_established)
        {
            Abort();
            return;
        }

        BeginGracefulClose();
    }

    private void BeginGracefulClose()
    {
        _session?.Release(this);
        _stopWriting = true;
        Doorbell.Ring();
        try
        {
            _abort.CancelAfter(_corral.Options.CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // ───────────────────────────── handshake ─────────────────────────────

    private async Task<PeerHello?> HandshakeAsync()
    {
        CorralOptions options = _corral.Options;
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _abort.Token);
        CancellationToken ct = linked.Token;
        byte[]? secret = options.Secret;
        byte[] nonce = Handshake.NewNonce();
        string stage = "the peer's hello";
        try
        {
            await SendFrameAsync(Handshake.CreateHello(_corral.Self, options.MaxFrameSize, nonce, secret is not null), ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);

            using Packet? first = await ReadHandshakeFrameAsync(ct).ConfigureAwait(false);
            if (first is null)
            {
                return null;
            }

            if (first.Header.SrcIdent != 0)
            {
                // The claimed ident, for the log line if the hello is refused.
                _peer = new Ident(first.Header.SrcIdent);
            }

            PeerHello? hello = Handshake.ParseHello(first.Header, out string? problem);
            if (hello is null)
            {
                return Refuse(ConnectionFailure.BadHello, problem!);
            }

            _peer = hello.Ident;
            if (hello.Ident == _corral.Self)
            {
                return Refuse(ConnectionFailure.BadHello, $"the peer says it is {hello.Ident}, this sidecar's own ident");
            }

            if (_dialledFor is not null && hello.Ident != _dialledFor.Ident)
            {
                return Refuse(ConnectionFailure.BadHello, $"dialled {_dialledFor.Ident} but the peer says it is {hello.Ident} (is the resolver out of date?)");
            }

            if (secret is null && hello.AuthScheme is not null)
            {
                return Refuse(ConnectionFailure.AuthFailed, "the peer requires a shared secret and none is configured here");
            }

            if (secret is not null && hello.AuthScheme is null)
            {
                return Refuse(ConnectionFailure.AuthFailed, "the peer has no shared secret and one is required here");
            }

            if (secret is not null)
            {
                if (hello.AuthScheme != Handshake.AuthScheme)
                {
                    return Refuse(ConnectionFailure.AuthFailed, $"the peer offers auth '{hello.AuthScheme}', not {Handshake.AuthScheme}");
                }

                byte[] proof = Handshake.ComputeProof(secret, hello.Nonce, nonce, _corral.Self, hello.Ident);
                await SendFrameAsync(Handshake.CreateAuth(_corral.Self), proof, ct).ConfigureAwait(false);

                stage = "the peer's auth frame";
                using Packet? auth = await ReadHandshakeFrameAsync(ct).ConfigureAwait(false);
                if (auth is null)
                {
                    return null;
                }

                if (auth.Header.BodyType != Handshake.AuthBodyType || auth.BodyLength != Handshake.ProofSize)
                {
                    return Refuse(ConnectionFailure.AuthFailed, $"expected a {Handshake.AuthBodyType} frame with a {Handshake.ProofSize}-byte proof, got '{auth.Header.BodyType}' with {auth.BodyLength} bytes");
                }

                byte[] expected = Handshake.ComputeProof(secret, nonce, hello.Nonce, hello.Ident, _corral.Self);
                if (!CryptographicOperations.FixedTimeEquals(expected, auth.BodySpan))
                {
                    return Refuse(ConnectionFailure.AuthFailed, "wrong proof: the peer does not know the shared secret");
                }
            }

            MaxFrameSize = Math.Min(options.MaxFrameSize, hello.MaxFrameSize);
            return hello;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_abort.IsCancellationRequested)
        {
            return Refuse(ConnectionFailure.HandshakeTimeout, $"no {stage} within {options.HandshakeTimeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException)
        {
            // Aborted: the corral shuts down; already recorded by whoever aborted.
            return Refuse(ConnectionFailure.PeerClosed, "aborted during the handshake");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return Refuse(ConnectionFailure.PeerClosed, $"the connection failed during the handshake: {e.Message}");
        }
    }

    private PeerHello? Refuse(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        Abort();
        ReportDialFailed(failure, reason);
        return null;
    }

    private void ReportDialFailed(ConnectionFailure failure, string reason)
    {
        if (_dialledFor is not null && Interlocked.Exchange(ref _dialReported, 1) == 0)
        {
            _dialledFor.DialFailed(failure, reason);
        }
    }

    private async Task<Packet?> ReadHandshakeFrameAsync(CancellationToken ct)
    {
        while (true)
        {
            ReadResult read = await _input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            TcpFrameReadResult frame = TcpFraming.ReadFrame(buffer, Handshake.MaxHandshakeFrameSize, read.IsCompleted);
            if (frame.IsComplete)
            {
                long size = buffer.Slice(0, frame.Consumed).Length;
                _input.AdvanceTo(frame.Consumed);
                CountIn(size, null);
                return frame.Packet;
            }

            if (frame.Status == TcpFrameStatus.Invalid)
            {
                _input.AdvanceTo(buffer.Start);
                Refuse(Classify(frame.Error), $"{frame.Error.ToMessage()} (during the handshake)");
                return null;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                Refuse(ConnectionFailure.PeerClosed, "the peer closed the connection during the handshake");
                return null;
            }
        }
    }

    private async Task SendFrameAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        _output.Reset();
        TcpFraming.Write(_output, header, body.Span);
        await SendAllAsync(_output.WrittenMemory, ct).ConfigureAwait(false);
        CountOut(_output.WrittenCount, 1, null);
        _output.Reset();
    }

    // ───────────────────────────── reading ─────────────────────────────

    private async Task ReadLoopAsync(PeerSession session, Ident peer)
    {
        int maxFrame = MaxFrameSize;
        try
        {
            while (true)
            {
                ReadResult read = await _input.ReadAsync(_abort.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (!buffer.IsEmpty)
                {
                    Volatile.Write(ref _lastActivity, Environment.TickCount64);
                }

                TcpFrameReadResult frame;
                while ((frame = TcpFraming.ReadFrame(buffer, maxFrame, read.IsCompleted)).IsComplete)
                {
                    long before = buffer.Length;
                    buffer = buffer.Slice(frame.Consumed);
                    CountIn(before - buffer.Length, session);
                    Packet packet = frame.Packet;
                    if (packet.Header.BodyType is Handshake.HelloBodyType or Handshake.AuthBodyType)
                    {
                        string bodyType = packet.Header.BodyType;
                        packet.Dispose();
                        _input.AdvanceTo(buffer.Start);
                        Fail(ConnectionFailure.BadFrame, $"a {bodyType} frame after the handshake");
                        return;
                    }

                    _corral.Deliver(packet, peer);
                }

                if (frame.Status == TcpFrameStatus.Invalid)
                {
                    _input.AdvanceTo(buffer.Start);
                    Fail(Classify(frame.Error), frame.Error == DecodeError.FrameTooLarge
                        ? $"{frame.Error.ToMessage()} ({maxFrame} bytes)"
                        : frame.Error.ToMessage());
                    return;
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    // The peer's FIN: everything it sent has been delivered. Finish our side gracefully.
                    if (TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, "closed by the peer"))
                    {
                        BeginGracefulClose();
                    }

                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted, or a graceful close ran out of time: the reason is recorded already.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Fail(ConnectionFailure.PeerClosed, e.InnerException?.Message ?? e.Message);
        }
    }

    private static ConnectionFailure Classify(DecodeError error) => error switch
    {
        DecodeError.FrameTooLarge => ConnectionFailure.FrameTooLarge,
        DecodeError.Truncated => ConnectionFailure.PeerClosed,
        _ => ConnectionFailure.BadFrame,
    };

    // ───────────────────────────── writing ─────────────────────────────

    private async Task WriteLoopAsync(PeerSession session)
    {
        var batch = new List<QueuedPacket>();
        int maxTotal = MaxFrameSize;
        try
        {
            while (session.TakeBatch(this, batch))
            {
                if (batch.Count == 0)
                {
                    await Doorbell.WaitAsync().ConfigureAwait(false);
                    continue;
                }

                int frames = 0;
                List<QueuedPacket>? tooLarge = null;
                foreach (QueuedPacket item in batch)
                {
                    // The limit is on the total length field, which counts 4 bytes less than the frame.
                    if (item.FrameSize - sizeof(uint) > maxTotal)
                    {
                        (tooLarge ??= []).Add(item);
                        CorralLog.TooLargeForPeer(_corral.Logger, session.Ident, item.FrameSize, maxTotal);
                        continue;
                    }

                    TcpFraming.Write(_output, item.Packet);
                    frames++;
                }

                if (tooLarge is not null)
                {
                    batch.RemoveAll(item => tooLarge.Contains(item));
                    session.Undeliverable(tooLarge, $"the frame is over {session.Ident}'s maximum frame size of {maxTotal} bytes");
                }

                try
                {
                    await SendAllAsync(_output.WrittenMemory, _abort.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    // Whether any of these reached the peer is unknown; a requester hears UNREACHABLE
                    // now rather than waiting for its timeout.
                    session.Undeliverable(batch, $"the connection with {session.Ident} failed while sending");
                    batch.Clear();
                    Fail(ConnectionFailure.PeerClosed, e is OperationCanceledException ? "the peer stopped reading" : e.Message);
                    return;
                }

                CountOut(_output.WrittenCount, frames, session);
                foreach (QueuedPacket item in batch)
                {
                    item.Packet.Dispose();
                }

                batch.Clear();
                _output.Reset();
            }

            // Stopped on purpose: everything taken was sent. Tell the peer nothing more comes.
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            Fail(ConnectionFailure.PeerClosed, e.Message);
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        // A stream socket may take part of the buffer; send the rest.
        while (!data.IsEmpty)
        {
            int sent = await _socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            Interlocked.Increment(ref _corral.Counters.Sends);
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            data = data[sent..];
        }
    }

    // ───────────────────────────── ending ─────────────────────────────

    /// <summary>Records why the connection ends, counts it and logs it; false if a reason was recorded already.</summary>
    private bool TryEnd(CloseKind kind, ConnectionFailure failure, string reason)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return false;
        }

        ILogger logger = _corral.Logger;
        switch (kind)
        {
            case CloseKind.Failure:
                _corral.Counters.Fail(failure);
                if (failure == ConnectionFailure.PeerClosed)
                {
                    CorralLog.Ended(logger, Describe(), reason);
                }
                else
                {
                    CorralLog.Refused(logger, Describe(), failure.ToMetricName(), reason);
                }

                break;
            case CloseKind.Duplicate:
                _corral.Counters.Fail(ConnectionFailure.Duplicate);
                break;
            case CloseKind.Idle:
                Interlocked.Increment(ref _corral.Counters.Idle);
                break;
            case CloseKind.Shutdown:
                break;
        }

        return true;
    }

    private void Fail(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        _session?.Release(this);
        Abort();
    }

    private void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        _stopWriting = true;
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
        Doorbell.Ring();
    }

    private async Task FinishAsync(Task? writer)
    {
        if (writer is not null)
        {
            // Graceful: the writer finishes its batch and sends FIN, bounded by the close timeout.
            _stopWriting = true;
            Doorbell.Ring();
            try
            {
                _abort.CancelAfter(_corral.Options.CloseTimeout);
            }
            catch (ObjectDisposedException)
            {
            }

            Task finished = await Task.WhenAny(writer, Task.Delay(_corral.Options.CloseTimeout)).ConfigureAwait(false);
            if (finished != writer)
            {
                Abort();
                await writer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        _session?.Release(this);
        Abort();
        _output.Dispose();
        if (_established)
        {
            Interlocked.Decrement(ref _corral.Counters.Open);
        }
        else
        {
            // Whatever ended the handshake, a dial must not stay "under way" for ever.
            ReportDialFailed(ConnectionFailure.PeerClosed, "the connection ended during the handshake");
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _abort.Dispose();
        _corral.Forget(this);
    }

    private static IPEndPoint? RemoteOf(Socket socket)
    {
        try
        {
            // A dual-mode socket reports an IPv4 peer as ::ffff:a.b.c.d; logs show a.b.c.d.
            return socket.RemoteEndPoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped
                ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port)
                : socket.RemoteEndPoint as IPEndPoint;
        }
        catch (SocketException)
        {
            // Reset before we looked: the connection fails on its first read.
            return null;
        }
    }

    private void CountIn(long bytes, PeerSession? session)
    {
        Interlocked.Increment(ref _corral.Counters.InFrames);
        Interlocked.Add(ref _corral.Counters.InBytes, bytes);
        if (session is not null)
        {
            Interlocked.Increment(ref session.FramesIn);
            Interlocked.Add(ref session.BytesIn, bytes);
        }
    }

    private void CountOut(long bytes, int frames, PeerSession? session)
    {
        Interlocked.Add(ref _corral.Counters.OutFrames, frames);
        Interlocked.Add(ref _corral.Counters.OutBytes, bytes);
        if (session is not null)
        {
            Interlocked.Add(ref session.FramesOut, frames);
            Interlocked.Add(ref session.BytesOut, bytes);
        }
    }
}
