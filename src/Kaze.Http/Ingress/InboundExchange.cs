using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Kaze.Http.Flow;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http.Ingress;

/// <summary>
/// The called side of one exchange: an HTTP request made of packets, forwarded to the app with
/// YARP. YARP needs an <see cref="HttpContext"/>; there is no connection here, so this object is
/// the context's request body and response features, as Kestrel's HttpProtocol is for a real one.
/// </summary>
/// <remarks>
/// The request body comes from a <see cref="BodyInbox"/> (credit granted as the app reads it); the
/// response head and body go back as packets when YARP writes them, a chunk at a time as the
/// caller grants credit. For an <c>http</c> packet (<c>single</c>) the response is gathered and
/// answered in one packet instead.
/// </remarks>
internal sealed class InboundExchange : IHttpResponseFeature, IHttpResponseBodyFeature, IHttpResponseTrailersFeature,
    IHttpRequestLifetimeFeature, IHttpResetFeature, IHttpRequestBodyDetectionFeature, IThreadPoolWorkItem, IDisposable
{
    private readonly HttpGateway _gateway;
    private readonly AppForwarder _app;
    private readonly (uint Caller, uint Sid) _key;
    private readonly bool _single;
    private readonly Lock _lock = new();
    private readonly HttpRequestFeature _request = new();
    private readonly BodyInbox _requestBody;
    private readonly SendCredit _responseCredit;
    private readonly CancellationTokenSource _aborted = new();
    private readonly ResponseStream _stream;
    private IHeaderDictionary _responseHeaders = new HeaderDictionary();
    private IHeaderDictionary _trailers = new HeaderDictionary();
    private PipeWriter? _writer;
    private string _version = "1.1";
    private bool _canHaveBody;

    // Set once the response head went out (the response "has started").
    private volatile bool _headSent;

    // Set once the response's end went out.
    private bool _endSent;

    // Set (under _lock) once the exchange was aborted.
    private bool _isAborted;

    // What the app's response announced: its length, and whether it can have trailers (HTTP/2).
    private long? _contentLength;
    private bool _trailersPossible = true;
    private long _written;

    // single: the response body, gathered; _tooLarge once it went over http:maxCallBodySize.
    private readonly ArrayBufferWriter<byte>? _singleBody;
    private bool _tooLarge;

    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;

    public InboundExchange(HttpGateway gateway, AppForwarder app, (uint Caller, uint Sid) key, bool single, long window, int headBodyLength)
    {
        _gateway = gateway;
        _app = app;
        _key = key;
        _single = single;
        _requestBody = new BodyInbox(gateway.Windows, headBodyLength, GrantRequest);
        _responseCredit = new SendCredit(window);
        _stream = new ResponseStream(this);
        _singleBody = single ? new ArrayBufferWriter<byte>() : null;
    }

    private Ident Caller => new(_key.Caller);

    private bool IsAborted
    {
        get
        {
            lock (_lock)
            {
                return _isAborted;
            }
        }
    }

    int IHttpResponseFeature.StatusCode { get; set; } = StatusCodes.Status200OK;

    string? IHttpResponseFeature.ReasonPhrase { get; set; }

    IHeaderDictionary IHttpResponseFeature.Headers
    {
        get => _responseHeaders;
        set => _responseHeaders = value;
    }

    Stream IHttpResponseFeature.Body
    {
        get => _stream;
        set => throw new NotSupportedException("The response body of a mesh exchange cannot be replaced.");
    }

    bool IHttpResponseFeature.HasStarted => _headSent;

    Stream IHttpResponseBodyFeature.Stream => _stream;

    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));

    IHeaderDictionary IHttpResponseTrailersFeature.Trailers
    {
        get => _trailers;
        set => _trailers = value;
    }

    CancellationToken IHttpRequestLifetimeFeature.RequestAborted
    {
        get => _aborted.Token;
        set => throw new NotSupportedException();
    }

    bool IHttpRequestBodyDetectionFeature.CanHaveBody => _canHaveBody;

    /// <summary>Answers a request packet that gets no exchange with an HTTP error made here (kaze.http.rsp, or an <c>http</c> response).</summary>
    public static void AnswerError(HttpGateway gateway, Packet request, bool single, int status, string name, string message)
    {
        Hdr header = request.Header;
        if (!header.ExpectsResponse)
        {
            return;
        }

        byte[] json = HttpErrors.Json(name, message, node: gateway.Mesh.Self);
        var response = new Hdr
        {
            BodyType = single ? HttpBodyTypes.Http : HttpBodyTypes.Response,
            Version = ProtocolVersion.Current,
            Rsp = header.Req,
            DstIdent = header.SrcIdent,
        };
        MapField<string, ByteString> map = response.Headers;
        HeadCodec.WriteStatus(map, status);
        map["content-type"] = ByteString.CopyFromUtf8("application/json");
        HttpEntries.PutNumber(map, "content-length", (ulong)json.Length);
        map["kaze-error"] = ByteString.CopyFromUtf8(name);
        if (!single)
        {
            HttpEntries.PutEnd(map);
        }

        gateway.Send(response, json);
    }

    /// <summary>Fills the request from the head; null, or what is wrong with its fields.</summary>
    public string? SetRequest(string method, string target, string version, Hdr header)
    {
        _version = version;
        _request.Protocol = HeadCodec.Protocol(version);
        _request.Scheme = "http";
        _request.Method = method;
        _request.RawTarget = target;
        int query = target.IndexOf('?');
        _request.Path = PathString.FromUriComponent(query < 0 ? target : target[..query]);
        _request.QueryString = query < 0 ? "" : target[query..];
        IHeaderDictionary headers = _request.Headers;
        _request.Body = new InboxStream(_requestBody);
        return HttpFields.Read(header.Headers, (name, values) => headers[name] = values);
    }

    /// <summary>The head packet's body bytes begin the request body.</summary>
    public void TakeRequestBody(Packet head)
    {
        bool end = _single || HttpEntries.HasEnd(head.Header.Headers);
        _canHaveBody = head.BodyLength > 0 || !end;
        _requestBody.TryAdd(head, end);
    }

    /// <summary>The app's response as YARP received it: how its body can end.</summary>
    public void AppResponded(Version version, long? contentLength)
    {
        _trailersPossible = version.Major >= 2;
        _contentLength = contentLength;
    }

    public void Execute() => _ = RunAsync();

    /// <summary>A kaze.http.up packet from the caller: credit, body, end, or a reset.</summary>
    public void OnUp(Packet packet)
    {
        MapField<string, ByteString> map = packet.Header.Headers;
        if (!BodyControl.Apply(map, _responseCredit, out string? reset, out string? violation))
        {
            packet.Dispose();
            if (reset is not null)
            {
                Abort($"{Caller} aborted the exchange: {reset}", notify: false);
            }
            else
            {
                Violation(violation!);
            }

            return;
        }

        // Request trailers are not passed on (docs/http.md); the end is.
        bool end = HttpEntries.HasEnd(map);
        if (packet.BodyLength == 0 && !end)
        {
            packet.Dispose();
        }
        else if (!_requestBody.TryAdd(packet, end))
        {
            Violation("more request body than granted");
        }
    }

    /// <summary>Aborts the exchange: the app's request is cancelled; with <paramref name="notify"/> the caller gets a reset.</summary>
    public void Abort(string reason, bool notify)
    {
        lock (_lock)
        {
            if (_isAborted)
            {
                return;
            }

            _isAborted = true;
        }

        var failure = new IOException(reason);
        _requestBody.Fail(failure);
        _responseCredit.Fail(failure);
        Interlocked.Increment(ref _gateway.Counters.Resets);
        HttpLog.Aborted(_gateway.Logger, _key.Sid, Caller.ToString(), reason);
        if (notify && !_single)
        {
            SendDown(ReadOnlySpan<byte>.Empty, reset: reason);
        }

        try
        {
            _aborted.Cancel();
        }
        catch (AggregateException)
        {
            // A callback of the app's request failed on cancellation: it is over either way.
        }
    }

    public void Dispose() => _requestBody.Dispose();

    void IHttpRequestLifetimeFeature.Abort() => Abort("the app's response failed", notify: true);

    void IHttpResetFeature.Reset(int errorCode) => Abort($"the app's response failed (HTTP/2 error {errorCode})", notify: true);

    void IHttpResponseFeature.OnStarting(Func<object, Task> callback, object state) => (_onStarting ??= []).Add((callback, state));

    void IHttpResponseFeature.OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= []).Add((callback, state));

    void IHttpResponseBodyFeature.DisableBuffering()
    {
    }

    async Task IHttpResponseBodyFeature.StartAsync(CancellationToken cancellationToken)
    {
        if (!_headSent && !_single)
        {
            await RunOnStartingAsync().ConfigureAwait(false);
            SendHead(ReadOnlySpan<byte>.Empty, end: false);
        }
    }

    async Task IHttpResponseBodyFeature.SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: true);
        file.Seek(offset, SeekOrigin.Begin);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(HttpLimits.ChunkSize);
        try
        {
            long left = count ?? long.MaxValue;
            while (left > 0)
            {
                int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                left -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    async Task IHttpResponseBodyFeature.CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync().ConfigureAwait(false);
        }

        await CompleteAsync().ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        try
        {
            if (!_single && !_requestBody.Ended)
            {
                // The caller may send the rest of the body: one window ahead of the app's reading.
                _requestBody.Grant(_requestBody.Window);
            }

            var features = new FeatureCollection(10);
            features.Set<IHttpRequestFeature>(_request);
            features.Set<IHttpResponseFeature>(this);
            features.Set<IHttpResponseBodyFeature>(this);
            features.Set<IHttpResponseTrailersFeature>(this);
            features.Set<IHttpRequestLifetimeFeature>(this);
            features.Set<IHttpResetFeature>(this);
            features.Set<IHttpRequestBodyDetectionFeature>(this);
            features.Set(this);
            var context = new DefaultHttpContext(features);
            ForwarderError error = await _gateway.Forwarder.SendAsync(context, _app.Prefix, _app.Invoker, _app.ConfigFor(_version), _app.Transformer, _aborted.Token).ConfigureAwait(false);
            if (IsAborted)
            {
                if (_single)
                {
                    // The host still waits: a too large response is RESOURCE_EXHAUSTED, anything else UNREACHABLE.
                    AnswerCode(_tooLarge ? RetCode.ResourceExhausted : RetCode.Unreachable);
                }

                return;
            }

            if (error != ForwarderError.None && !_headSent)
            {
                await AnswerAppFailureAsync(context, error).ConfigureAwait(false);
            }

            await CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (!IsAborted)
            {
                HttpLog.Unexpected(_gateway.Logger, e);
                if (_single)
                {
                    AnswerCode(RetCode.Unreachable);
                }
            }

            Abort("the exchange failed: " + e.Message, notify: true);
        }
        finally
        {
            if (!_single && !IsAborted && !_requestBody.Ended)
            {
                // The app answered without reading the whole request: the caller stops sending it.
                SendDown(ReadOnlySpan<byte>.Empty, reset: "the response is complete; the rest of the request body is not read");
            }

            _gateway.Remove(_key, this);
            Dispose();
        }
    }

    /// <summary>YARP could not get a response from the app: a 502 or 504 from this node that says why.</summary>
    private Task AnswerAppFailureAsync(HttpContext context, ForwarderError error)
    {
        Exception? exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        while (exception?.InnerException is not null)
        {
            exception = exception.InnerException;
        }

        string detail = exception?.Message ?? error.ToString();
        (int status, string name, string message) = error switch
        {
            ForwarderError.Request or ForwarderError.RequestCreation =>
                (StatusCodes.Status502BadGateway, "APP_UNREACHABLE", $"the app at {_app.Prefix} could not be reached: {detail}"),
            ForwarderError.RequestTimedOut =>
                (StatusCodes.Status504GatewayTimeout, "APP_TIMEOUT", $"the app at {_app.Prefix} did not answer in time"),
            _ => (context.Response.StatusCode >= 400 ? context.Response.StatusCode : StatusCodes.Status502BadGateway, "APP_FAILED", $"forwarding to the app failed ({error}): {detail}"),
        };
        HttpLog.AppFailed(_gateway.Logger, error.ToString(), detail);
        byte[] json = HttpErrors.Json(name, message, node: _gateway.Mesh.Self);
        var response = (IHttpResponseFeature)this;
        response.StatusCode = status;
        _responseHeaders.Clear();
        _trailers.Clear();
        _responseHeaders.ContentType = "application/json";
        _responseHeaders.ContentLength = json.Length;
        _responseHeaders[HttpErrors.Header] = name;
        _trailersPossible = false;
        _contentLength = json.Length;
        return HttpMethods.IsHead(_request.Method) ? Task.CompletedTask : WriteAsync(json, CancellationToken.None).AsTask();
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (IsAborted)
        {
            throw new IOException("The exchange was aborted.");
        }

        if (data.Length == 0)
        {
            return;
        }

        if (_single)
        {
            if (_singleBody!.WrittenCount + data.Length > _gateway.Options.MaxCallBodySize)
            {
                _tooLarge = true;
                Abort($"the response is over {_gateway.Options.MaxCallBodySize} bytes (http:maxCallBodySize)", notify: false);
                throw new IOException("The response is too large for one packet.");
            }

            _singleBody.Write(data.Span);
            return;
        }

        if (!_headSent)
        {
            await RunOnStartingAsync().ConfigureAwait(false);
            int first = _responseCredit.TryTake(Math.Min(data.Length, HttpLimits.ChunkSize));
            SendHead(data.Span[..first], end: Advance(first));
            data = data[first..];
        }

        while (data.Length > 0)
        {
            int n = await _responseCredit.TakeAsync(Math.Min(data.Length, HttpLimits.ChunkSize), cancellationToken).ConfigureAwait(false);
            if (!SendDown(data.Span[..n], end: Advance(n)))
            {
                throw new IOException($"cannot send to {Caller}");
            }

            data = data[n..];
        }
    }

    /// <summary>Counts <paramref name="bytes"/> written; true when they complete a body of known length that cannot have trailers (its end goes with them).</summary>
    private bool Advance(int bytes)
    {
        _written += bytes;
        bool end = !_trailersPossible && _contentLength == _written;
        _endSent |= end;
        return end;
    }

    private async Task CompleteAsync()
    {
        if (IsAborted)
        {
            return;
        }

        if (_single)
        {
            AnswerSingle();
        }
        else if (!_headSent)
        {
            await RunOnStartingAsync().ConfigureAwait(false);
            bool trailers = _trailers.Count > 0;
            SendHead(ReadOnlySpan<byte>.Empty, end: !trailers);
            if (trailers)
            {
                SendDown(ReadOnlySpan<byte>.Empty, end: true);
            }
        }
        else if (!_endSent)
        {
            SendDown(ReadOnlySpan<byte>.Empty, end: true);
        }

        _endSent = true;
        if (_onCompleted is { } completed)
        {
            _onCompleted = null;
            foreach ((Func<object, Task> callback, object state) in completed)
            {
                await callback(state).ConfigureAwait(false);
            }
        }
    }

    private async Task RunOnStartingAsync()
    {
        if (_onStarting is { } starting)
        {
            _onStarting = null;
            for (int i = starting.Count - 1; i >= 0; i--)
            {
                await starting[i].Callback(starting[i].State).ConfigureAwait(false);
            }
        }
    }

    private void SendHead(ReadOnlySpan<byte> body, bool end)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Response, Version = ProtocolVersion.Current, Rsp = _key.Sid, DstIdent = _key.Caller };
        MapField<string, ByteString> map = header.Headers;
        HeadCodec.WriteStatus(map, ((IHttpResponseFeature)this).StatusCode);
        HttpFields.Write(map, _responseHeaders);
        if (end)
        {
            HttpEntries.PutEnd(map);
        }

        _headSent = true;
        _endSent |= end;
        if (!_gateway.Send(header, body))
        {
            Abort($"cannot send to {Caller} (unreachable or its queue is full)", notify: false);
            throw new IOException($"cannot send to {Caller}");
        }
    }

    private bool SendDown(ReadOnlySpan<byte> body, bool end = false, int credit = 0, string? reset = null)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Down, Version = ProtocolVersion.Current, DstIdent = _key.Caller };
        MapField<string, ByteString> map = header.Headers;
        HttpEntries.PutNumber(map, HttpEntries.Stream, _key.Sid);
        if (credit > 0)
        {
            HttpEntries.PutNumber(map, HttpEntries.Credit, (ulong)credit);
        }

        if (end)
        {
            HttpFields.Write(map, _trailers);
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
            Abort($"cannot send to {Caller} (unreachable or its queue is full)", notify: false);
        }

        return false;
    }

    private void GrantRequest(int bytes)
    {
        if (!IsAborted)
        {
            SendDown(ReadOnlySpan<byte>.Empty, credit: bytes);
        }
    }

    private void AnswerSingle()
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Http, Version = ProtocolVersion.Current, Rsp = _key.Sid, DstIdent = _key.Caller };
        MapField<string, ByteString> map = header.Headers;
        HeadCodec.WriteStatus(map, ((IHttpResponseFeature)this).StatusCode);
        HttpFields.Write(map, _responseHeaders);
        _gateway.Send(header, _singleBody!.WrittenSpan);
    }

    private void AnswerCode(RetCode code)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Http, Version = ProtocolVersion.Current, RetCode = (uint)code, Rsp = _key.Sid, DstIdent = _key.Caller };
        _gateway.Send(header, ReadOnlySpan<byte>.Empty);
    }

    private void Violation(string reason)
    {
        Interlocked.Increment(ref _gateway.Counters.Violations);
        HttpLog.ProtocolViolation(_gateway.Logger, Caller.ToString(), reason, _key.Sid);
        Abort(reason, notify: true);
    }

    /// <summary>The response body stream YARP writes to.</summary>
    private sealed class ResponseStream(InboundExchange exchange) : Stream
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

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => exchange.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

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
