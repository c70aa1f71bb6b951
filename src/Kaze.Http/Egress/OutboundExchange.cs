using System.Buffers;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Kaze.Http.Flow;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.AspNetCore.Http;

namespace Kaze.Http.Egress;

/// <summary>
/// The calling side of one exchange over the mesh: the request head (a tracked Kaze request,
/// through the pipeline), the request body in chunks as the called gateway grants credit, and the
/// response — its head as the request's answer, its body into a <see cref="BodyInbox"/> that
/// grants credit back as YARP copies it to the client.
/// </summary>
/// <remarks>
/// Threads: <see cref="SendAsync"/> and the upload run on the forwarder's tasks; <see cref="Answer"/>
/// and <see cref="OnDown"/> on the node's delivery thread, in the order the packets came. State
/// changes are under <c>_lock</c>; packets are sent outside it.
/// </remarks>
internal sealed class OutboundExchange : IAnswerSink
{
    private readonly HttpGateway _gateway;
    private readonly Lock _lock = new();

    // The request head; the tracker keeps it to answer a timeout, so it is not changed once sent.
    private readonly Hdr _head;

    // The head's answer: the response head (kaze.http.rsp), or the sidecar's RetCode.
    private readonly TaskCompletionSource<Hdr> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Request body bytes the called gateway has granted and the upload has not used.
    private readonly SendCredit _requestCredit = new(0);

    private State _state;

    // The exchange's id: the head's req. Set once, when the head is sent.
    private uint _sid;

    // Set by Answer when the response head broke the rules (more body than the window).
    private string? _violation;

    // The response trailers, stored before the end is added to the inbox (the reader sees them at its end).
    private List<KeyValuePair<string, string[]>>? _trailers;

    // The response being returned to YARP, for its trailers.
    private HttpResponseMessage? _message;

    // A small request body (Content-Length up to a chunk) held to go out with the head.
    private ArrayBufferWriter<byte>? _held;

    public OutboundExchange(HttpGateway gateway, Ident node)
    {
        _gateway = gateway;
        Node = node;
        Response = new BodyInbox(gateway.Windows, 0, GrantResponse);
        int window = Response.Window;
        Response.Allow(window);
        _head = new Hdr { BodyType = HttpBodyTypes.Request, Version = ProtocolVersion.Current, Timeout = gateway.TimeoutMilliseconds, DstIdent = node.Value };
        HttpEntries.PutNumber(_head.Headers, HttpEntries.Window, (ulong)window);
    }

    [Flags]
    private enum State
    {
        HeadSent = 1,
        RequestDone = 2,
        ResponseDone = 4,
        Aborted = 8,
        Answered = 16,
    }

    /// <summary>The called node (0.0.0.0: this one).</summary>
    public Ident Node { get; }

    /// <summary>The response body as it arrives.</summary>
    public BodyInbox Response { get; }

    private bool HeadSent
    {
        get
        {
            lock (_lock)
            {
                return (_state & State.HeadSent) != 0;
            }
        }
    }

    /// <summary>Whether a packet from <paramref name="source"/> may belong to this exchange: only the called node's may.</summary>
    public bool IsFrom(uint source) => source == Node.Value || (Node.Value == 0 && source == _gateway.Mesh.Self.Value);

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string version, CancellationToken cancellationToken)
    {
        MapField<string, ByteString> map = _head.Headers;
        HeadCodec.WriteRequestLine(map, request.Method.Method, request.RequestUri!.PathAndQuery, version);
        HttpContent? content = request.Content;
        int fieldBytes = HttpFields.Write(map, request.Headers) + (content is null ? 0 : HttpFields.Write(map, content.Headers));
        if (fieldBytes > HttpLimits.MaxFieldBytes)
        {
            Interlocked.Increment(ref _gateway.Counters.EgressRefused);
            return HttpErrors.Message(StatusCodes.Status431RequestHeaderFieldsTooLarge, "FIELDS_TOO_LARGE", HttpErrors.Json("FIELDS_TOO_LARGE", $"the request's fields are over {HttpLimits.MaxFieldBytes} bytes"));
        }

        if (content is null)
        {
            SendHead(ReadOnlySpan<byte>.Empty, end: true);
        }
        else if (content.Headers.ContentLength is long length && length <= HttpLimits.ChunkSize)
        {
            // A small body the client has committed to: it goes in the head's packet.
            _held = new ArrayBufferWriter<byte>((int)Math.Max(length, 1));
            _ = UploadAsync(content, cancellationToken);
        }
        else
        {
            SendHead(ReadOnlySpan<byte>.Empty, end: false);
            _ = UploadAsync(content, cancellationToken);
        }

        Hdr answer;
        try
        {
            answer = await _answer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Abort("the client went away before the response", notify: true);
            throw;
        }
        catch (IOException e)
        {
            return HttpErrors.Message(StatusCodes.Status502BadGateway, "ABORTED", HttpErrors.Json("ABORTED", e.Message, node: Node));
        }

        if (answer.RetCode != (uint)RetCode.Ok)
        {
            // A timeout leaves the called gateway working: tell it to stop.
            Abort(HttpErrors.Explain(answer.RetCode, Node), notify: answer.RetCode == (uint)RetCode.Timeout);
            return HttpErrors.Message(answer.RetCode, Node);
        }

        int status = StatusCodes.Status502BadGateway;
        string? problem = _violation
            ?? (answer.BodyType != HttpBodyTypes.Response
                ? $"the answer is a '{HttpFields.Printable(answer.BodyType)}' packet, not {HttpBodyTypes.Response}"
                : HeadCodec.ReadStatus(answer, out status));
        var message = new HttpResponseMessage((HttpStatusCode)status) { RequestMessage = request, Version = HttpVersion.Version11 };
        var body = new InboxContent(this);
        problem ??= HttpFields.Read(answer.Headers, (name, values) =>
        {
            if (!message.Headers.TryAddWithoutValidation(name, values))
            {
                body.Headers.TryAddWithoutValidation(name, values);
            }
        });
        if (problem is not null)
        {
            Interlocked.Increment(ref _gateway.Counters.Violations);
            HttpLog.ProtocolViolation(_gateway.Logger, Node.ToString(), problem, _sid);
            Abort(problem, notify: true);
            message.Dispose();
            return HttpErrors.Message(StatusCodes.Status502BadGateway, "BAD_RESPONSE", HttpErrors.Json("BAD_RESPONSE", $"the response head from {Node} is malformed: {problem}", node: Node));
        }

        message.Content = body;
        _message = message;
        return message;
    }

    /// <inheritdoc/>
    public void Answer(Packet response)
    {
        Hdr header = response.Header;
        if (header.RetCode == (uint)RetCode.Ok && header.BodyType == HttpBodyTypes.Response)
        {
            // The head's body bytes go into the inbox here, on the delivery thread, before any
            // kaze.http.down that follows them is handled.
            if (!Response.TryAdd(response, HttpEntries.HasEnd(header.Headers)))
            {
                _violation = "more response body than the window";
            }
        }
        else
        {
            response.Dispose();
        }

        lock (_lock)
        {
            _state |= State.Answered;
        }

        _answer.TrySetResult(header);
    }

    /// <summary>A kaze.http.down packet from the called gateway: credit, body, end and trailers, or a reset.</summary>
    public void OnDown(Packet packet)
    {
        MapField<string, ByteString> map = packet.Header.Headers;
        if (!BodyControl.Apply(map, _requestCredit, out string? reset, out string? violation))
        {
            packet.Dispose();
            if (reset is not null)
            {
                Abort($"{Node} aborted the exchange: {reset}", notify: false);
            }
            else
            {
                Violation(violation!);
            }

            return;
        }

        bool end = HttpEntries.HasEnd(map);
        if (end)
        {
            var trailers = new List<KeyValuePair<string, string[]>>();
            string? problem = HttpFields.Read(map, (name, values) => trailers.Add(new(name, values)));
            if (problem is not null)
            {
                packet.Dispose();
                Violation("bad trailers: " + problem);
                return;
            }

            Volatile.Write(ref _trailers, trailers);
        }

        if (packet.BodyLength == 0 && !end)
        {
            packet.Dispose();
        }
        else if (!Response.TryAdd(packet, end))
        {
            Violation("more response body than granted");
        }
    }

    /// <summary>Aborts the exchange (both directions, whatever has not ended); with <paramref name="notify"/> the called gateway is told.</summary>
    public void Abort(string reason, bool notify)
    {
        bool headSent;
        bool answered;
        lock (_lock)
        {
            const State done = State.RequestDone | State.ResponseDone;
            if ((_state & State.Aborted) != 0 || (_state & done) == done)
            {
                return;
            }

            headSent = (_state & State.HeadSent) != 0;
            answered = (_state & State.Answered) != 0;
            _state |= State.Aborted | done;
        }

        var failure = new IOException(reason);
        Response.Fail(failure);
        _requestCredit.Fail(failure);
        _answer.TrySetException(failure);
        Interlocked.Increment(ref _gateway.Counters.Resets);
        HttpLog.Aborted(_gateway.Logger, _sid, Node.ToString(), reason);
        if (!headSent)
        {
            return;
        }

        if (!answered)
        {
            _gateway.Mesh.Forget(_sid);
        }

        if (notify)
        {
            SendUp(ReadOnlySpan<byte>.Empty, reset: reason);
        }

        _gateway.Remove(_sid, this);
    }

    /// <summary>Writes request body bytes: held for the head while it is small, else sent in chunks as credit allows.</summary>
    internal async ValueTask WriteRequestAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_held is { } held)
        {
            if (held.WrittenCount + data.Length <= HttpLimits.ChunkSize)
            {
                held.Write(data.Span);
                return;
            }

            // More than the client announced: what is held goes with the head, the rest streams.
            _held = null;
            SendHead(held.WrittenSpan, end: false);
        }

        while (data.Length > 0)
        {
            int n = await _requestCredit.TakeAsync(Math.Min(data.Length, HttpLimits.ChunkSize), cancellationToken).ConfigureAwait(false);
            if (!SendUp(data.Span[..n]))
            {
                throw new IOException($"cannot send to {Node}");
            }

            data = data[n..];
        }
    }

    /// <summary>The request body ended.</summary>
    internal void EndRequest()
    {
        if (_held is { } held)
        {
            _held = null;
            SendHead(held.WrittenSpan, end: true);
        }
        else
        {
            SendUp(ReadOnlySpan<byte>.Empty, end: true);
        }

        Done(State.RequestDone);
    }

    /// <summary>The reader reached the response's end: its trailers go to the response message.</summary>
    internal void ResponseEnded()
    {
        if (Volatile.Read(ref _trailers) is { } trailers && _message is { } message)
        {
            foreach (KeyValuePair<string, string[]> trailer in trailers)
            {
                message.TrailingHeaders.TryAddWithoutValidation(trailer.Key, trailer.Value);
            }
        }

        Done(State.ResponseDone);
    }

    /// <summary>The response stream or message was disposed: if it was not read to the end, the exchange is aborted.</summary>
    internal void ResponseClosed()
    {
        lock (_lock)
        {
            if ((_state & State.ResponseDone) != 0)
            {
                return;
            }
        }

        Abort("the response was not read to its end", notify: true);
    }

    private async Task UploadAsync(HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            await content.CopyToAsync(new UploadStream(this), cancellationToken).ConfigureAwait(false);
            EndRequest();
        }
        catch (Exception e)
        {
            if (!HeadSent)
            {
                // Nothing crossed the mesh: the forwarder reports the body's failure (400, or the client gone).
                _answer.TrySetException(e);
                return;
            }

            Abort("the request body failed: " + e.Message, notify: true);
        }
    }

    private void SendHead(ReadOnlySpan<byte> body, bool end)
    {
        ISidecarPort mesh = _gateway.Mesh;
        if (end)
        {
            HttpEntries.PutEnd(_head.Headers);
        }

        while (true)
        {
            _sid = mesh.Track(_head, this);
            if (_gateway.Register(_sid, this))
            {
                break;
            }

            // The id of an exchange still streaming (its head answered long ago): take another.
            mesh.Forget(_sid);
        }

        lock (_lock)
        {
            _state |= State.HeadSent | (end ? State.RequestDone : 0);
        }

        mesh.Route(Packet.Create(_head, body));
    }

    private void GrantResponse(int bytes)
    {
        lock (_lock)
        {
            if ((_state & (State.ResponseDone | State.Aborted)) != 0 || (_state & State.HeadSent) == 0)
            {
                return;
            }
        }

        SendUp(ReadOnlySpan<byte>.Empty, credit: bytes);
    }

    private bool SendUp(ReadOnlySpan<byte> body, bool end = false, int credit = 0, string? reset = null)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Up, Version = ProtocolVersion.Current, DstIdent = Node.Value };
        MapField<string, ByteString> map = header.Headers;
        HttpEntries.PutNumber(map, HttpEntries.Stream, _sid);
        if (credit > 0)
        {
            HttpEntries.PutNumber(map, HttpEntries.Credit, (ulong)credit);
        }

        if (end)
        {
            HttpEntries.PutEnd(map);
        }

        if (reset is not null)
        {
            HttpEntries.PutText(map, HttpEntries.Reset, reset.Length > HttpLimits.MaxResetReason ? reset[..HttpLimits.MaxResetReason] : reset);
        }

        if (_gateway.Send(header, body))
        {
            return true;
        }

        if (reset is null)
        {
            Abort($"cannot send to {Node} (unreachable or its queue is full)", notify: false);
        }

        return false;
    }

    private void Violation(string reason)
    {
        Interlocked.Increment(ref _gateway.Counters.Violations);
        HttpLog.ProtocolViolation(_gateway.Logger, Node.ToString(), reason, _sid);
        Abort(reason, notify: true);
    }

    private void Done(State half)
    {
        bool remove;
        lock (_lock)
        {
            _state |= half;
            remove = (_state & (State.RequestDone | State.ResponseDone)) == (State.RequestDone | State.ResponseDone) && (_state & State.Aborted) == 0;
        }

        if (remove)
        {
            _gateway.Remove(_sid, this);
        }
    }

    /// <summary>The stream YARP copies the request body into.</summary>
    private sealed class UploadStream(OutboundExchange exchange) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            exchange.WriteRequestAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>The response body of an exchange, as YARP reads it.</summary>
internal sealed class InboxContent(OutboundExchange exchange) : HttpContent
{
    private InboxStream? _stream;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using Stream body = Open();
        await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult(Open());

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult(Open());

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            exchange.ResponseClosed();
        }

        base.Dispose(disposing);
    }

    private Stream Open() => _stream ??= new InboxStream(exchange.Response, exchange.ResponseEnded, exchange.ResponseClosed);
}
