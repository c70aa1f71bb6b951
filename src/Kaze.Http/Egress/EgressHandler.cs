using System.Buffers;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http.Egress;

/// <summary>
/// One request through the loopback port: checked here (nothing crosses the mesh for a request
/// that is malformed or over a limit), then forwarded with YARP's <see cref="IHttpForwarder"/>
/// over <see cref="MeshHttpHandler"/> (the mesh as YARP's HTTP client), or, with a
/// <c>Kaze-Body-Type</c> header, sent as one plain Kaze request to a host's handler.
/// </summary>
internal sealed class EgressHandler
{
    /// <summary>The request header that makes a request a plain Kaze call with that body type.</summary>
    public const string BodyTypeHeader = "Kaze-Body-Type";

    // YARP's destination prefix: only its form matters, the transformer sets the real path.
    private const string Prefix = "http://kaze.mesh/";

    private readonly HttpGateway _gateway;
    private readonly HttpMessageInvoker _mesh;
    private readonly ForwarderRequestConfig _config;
    private readonly EgressTransformer _transformer = new();

    // Requests being served; at most MaxExchanges.
    private int _active;

    public EgressHandler(HttpGateway gateway)
    {
        _gateway = gateway;
        _mesh = new HttpMessageInvoker(new MeshHttpHandler(gateway), disposeHandler: true);
        // Our own timeout answers first (a 504 that names the Kaze code); YARP's is the backstop
        // for a body transfer that stalls.
        _config = new ForwarderRequestConfig { ActivityTimeout = gateway.Options.Timeout + TimeSpan.FromSeconds(1) };
    }

    public async Task HandleAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        string? nodeHeader = request.Headers.TryGetValue(EgressTarget.NodeHeader, out var named) ? named.ToString() : null;
        EgressTarget? target = EgressTarget.Parse(request.Path, nodeHeader, HeadCodec.Version(request.Protocol), out string? problem);
        if (target is null)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "BAD_REQUEST", problem!).ConfigureAwait(false);
            return;
        }

        string rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "";
        if (request.Method.Length + rawTarget.Length > HttpLimits.MaxRequestLine)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "BAD_REQUEST", $"the request line is over {HttpLimits.MaxRequestLine} bytes (method and target)").ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true)
        {
            await RefuseAsync(context, StatusCodes.Status501NotImplemented, "NOT_IMPLEMENTED", "upgrades (WebSocket and others) are not carried over the mesh").ConfigureAwait(false);
            return;
        }

        if (_gateway.Options.MaxRequestBodySize is long max && request.ContentLength > max)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "TOO_LARGE", $"the request body is over {max} bytes (http:maxRequestBodySize)").ConfigureAwait(false);
            return;
        }

        if (Interlocked.Increment(ref _active) > _gateway.Options.MaxExchanges)
        {
            Interlocked.Decrement(ref _active);
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "TOO_MANY", $"{_gateway.Options.MaxExchanges} requests are in flight already (http:maxExchanges)").ConfigureAwait(false);
            return;
        }

        try
        {
            Interlocked.Increment(ref _gateway.Counters.EgressStarted);
            if (request.Headers.TryGetValue(BodyTypeHeader, out var bodyType))
            {
                await CallAsync(context, target, bodyType.ToString()).ConfigureAwait(false);
                return;
            }

            context.Features.Set(target);
            ForwarderError error = await _gateway.Forwarder.SendAsync(context, Prefix, _mesh, _config, _transformer).ConfigureAwait(false);
            if (error != ForwarderError.None && !context.Response.HasStarted && context.Response.StatusCode >= 400)
            {
                string message = context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString();
                HttpLog.Aborted(_gateway.Logger, 0, target.Node.ToString(), error + ": " + message);
                await HttpErrors.WriteAsync(context, context.Response.StatusCode, "FORWARD_FAILED", $"{error}: {message}").ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private Task RefuseAsync(HttpContext context, int status, string name, string message)
    {
        Interlocked.Increment(ref _gateway.Counters.EgressRefused);
        return HttpErrors.WriteAsync(context, status, name, message);
    }

    /// <summary>
    /// A plain Kaze request: body type from the header, the HTTP body as its body (at most
    /// http:maxCallBodySize), the request line and fields in its header map. The response's body
    /// is the HTTP body; a <c>:status</c> and fields in its map are used if present.
    /// </summary>
    private async Task CallAsync(HttpContext context, EgressTarget target, string bodyType)
    {
        HttpRequest request = context.Request;
        if (bodyType.Length is 0 or > 256 || bodyType.StartsWith("kaze.", StringComparison.Ordinal) || bodyType.AsSpan().ContainsAnyInRange('\0', '\u001f'))
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "BAD_REQUEST", $"{BodyTypeHeader} must be 1 to 256 characters and not start with \"kaze.\" (kept for the sidecar)").ConfigureAwait(false);
            return;
        }

        int max = _gateway.Options.MaxCallBodySize;
        if (request.ContentLength > max)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "TOO_LARGE", $"a {BodyTypeHeader} call's body is at most {max} bytes (http:maxCallBodySize)").ConfigureAwait(false);
            return;
        }

        var body = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, max) + 1);
        while (true)
        {
            Memory<byte> space = body.GetMemory(4096);
            int read = await request.Body.ReadAsync(space, context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            body.Advance(read);
            if (body.WrittenCount > max)
            {
                await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "TOO_LARGE", $"a {BodyTypeHeader} call's body is at most {max} bytes (http:maxCallBodySize)").ConfigureAwait(false);
                return;
            }
        }

        var header = new Hdr { BodyType = bodyType, Version = ProtocolVersion.Current, Timeout = _gateway.TimeoutMilliseconds, DstIdent = target.Node.Value };
        HeadCodec.WriteRequestLine(header.Headers, request.Method, target.Rest.ToUriComponent() + request.QueryString.ToUriComponent(), target.Version);
        HttpFields.Write(header.Headers, request.Headers);
        header.Headers.Remove("kaze-body-type");
        header.Headers.Remove("kaze-node");
        var answer = new CallAnswer();
        ISidecarPort mesh = _gateway.Mesh;
        uint sequence = mesh.Track(header, answer);
        mesh.Route(Packet.Create(header, body.WrittenSpan));
        Packet response;
        try
        {
            response = await answer.Task.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            mesh.Forget(sequence);
            return;
        }

        using (response)
        {
            Hdr head = response.Header;
            if (head.RetCode != (uint)RetCode.Ok)
            {
                (int status, string name) = HttpErrors.ForRetCode(head.RetCode);
                await HttpErrors.WriteAsync(context, status, name, HttpErrors.Explain(head.RetCode, target.Node), head.RetCode, target.Node).ConfigureAwait(false);
                return;
            }

            HttpResponse http = context.Response;
            http.StatusCode = HeadCodec.ReadStatus(head, out int given) is null ? given : StatusCodes.Status200OK;
            string? problem = HttpFields.Read(head.Headers, (name, values) =>
            {
                if (name != "content-length")
                {
                    http.Headers[name] = values;
                }
            });
            if (problem is not null)
            {
                http.Headers.Clear();
                await HttpErrors.WriteAsync(context, StatusCodes.Status502BadGateway, "BAD_RESPONSE", $"the response from {target.Node} has bad fields: {problem}").ConfigureAwait(false);
                return;
            }

            if (!http.Headers.ContainsKey("content-type"))
            {
                http.Headers.ContentType = "application/octet-stream";
            }

            http.Headers.ContentLength = response.BodyLength;
            if (!HttpMethods.IsHead(request.Method))
            {
                await http.Body.WriteAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The one answer to a plain call.</summary>
    private sealed class CallAnswer : IAnswerSink
    {
        private readonly TaskCompletionSource<Packet> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Packet> Task => _answer.Task;

        public void Answer(Packet response)
        {
            if (!_answer.TrySetResult(response))
            {
                response.Dispose();
            }
        }
    }
}
