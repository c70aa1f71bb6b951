using System.Net;
using System.Text;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http.Ingress;

/// <summary>
/// The ingress: exchanges that reach this node over the mesh, forwarded to the app on
/// 127.0.0.1:<c>http:appPort</c> with YARP's <see cref="IHttpForwarder"/> and one pooled
/// <see cref="SocketsHttpHandler"/> (HTTP/1.1, or HTTP/2 with prior knowledge for an HTTP/2 client).
/// </summary>
internal sealed class AppForwarder : IDisposable
{
    private readonly HttpGateway _gateway;

    public AppForwarder(HttpGateway gateway)
    {
        _gateway = gateway;
        HttpGatewayOptions options = gateway.Options;
        Prefix = "http://127.0.0.1:" + options.AppPort!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/";
        Invoker = new HttpMessageInvoker(
            new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                // YARP adds its own trace headers where configured; none are made up here.
                ActivityHeadersPropagator = null,
                // Field values are octets (see HttpFields).
                RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
                ResponseHeaderEncodingSelector = (_, _) => Encoding.Latin1,
            },
            disposeHandler: true);
        Http1 = new ForwarderRequestConfig { ActivityTimeout = options.Timeout, Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        // Cleartext HTTP/2 needs "prior knowledge": exactly version 2, no upgrade.
        Http2 = new ForwarderRequestConfig { ActivityTimeout = options.Timeout, Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    /// <summary>The app's address, as YARP's destination prefix.</summary>
    public string Prefix { get; }

    public HttpMessageInvoker Invoker { get; }

    public ForwarderRequestConfig Http1 { get; }

    public ForwarderRequestConfig Http2 { get; }

    public IngressTransformer Transformer { get; } = new();

    /// <summary>The config for a client that spoke <paramref name="version"/>.</summary>
    public ForwarderRequestConfig ConfigFor(string version) => _gateway.Options.AppProtocol switch
    {
        HttpAppProtocol.Http1 => Http1,
        HttpAppProtocol.Http2 => Http2,
        _ => version == "2" ? Http2 : Http1,
    };

    /// <summary>A kaze.http.req (or, <paramref name="single"/>, an <c>http</c> request) routed to this node: checked, then forwarded on the thread pool.</summary>
    public void Accept(Packet packet, bool single)
    {
        Hdr header = packet.Header;
        if (!header.ExpectsResponse)
        {
            // Nobody waits for an answer: nothing to forward it for.
            _gateway.Refuse(packet, RetCode.Unreachable, "an HTTP request without req or timeout");
            return;
        }

        var key = (header.SrcIdent, header.Req);
        string? problem = HeadCodec.ReadRequestLine(header, out string method, out string target, out string version);
        ulong window = 0;
        if (problem is null && !single
            && !(HttpEntries.TryGetNumber(header.Headers, HttpEntries.Window, HttpLimits.MaxCredit, out window, out bool valid) && valid))
        {
            problem = ":window must be a number up to " + HttpLimits.MaxCredit;
        }

        if (problem is not null)
        {
            Refuse(packet, single, 400, "BAD_REQUEST", "malformed request head: " + problem);
            return;
        }

        if (_gateway.InboundCount >= _gateway.Options.MaxExchanges)
        {
            _gateway.Refuse(packet, RetCode.ResourceExhausted, $"{_gateway.Options.MaxExchanges} exchanges are in flight (http:maxExchanges)");
            return;
        }

        var exchange = new InboundExchange(_gateway, this, key, single, (long)window, packet.BodyLength);
        problem = exchange.SetRequest(method, target, version, header);
        if (problem is not null)
        {
            exchange.Dispose();
            Refuse(packet, single, problem.StartsWith("the fields are over", StringComparison.Ordinal) || problem.StartsWith("more than", StringComparison.Ordinal) ? 431 : 400, "BAD_REQUEST", "malformed request fields: " + problem);
            return;
        }

        if (!_gateway.Register(key, exchange))
        {
            exchange.Dispose();
            Refuse(packet, single, 400, "BAD_REQUEST", "exchange id " + key.Req + " is in use");
            return;
        }

        Interlocked.Increment(ref _gateway.Counters.IngressStarted);
        exchange.TakeRequestBody(packet);
        ThreadPool.UnsafeQueueUserWorkItem(exchange, preferLocal: false);
    }

    public void Dispose() => Invoker.Dispose();

    private void Refuse(Packet packet, bool single, int status, string name, string message)
    {
        Interlocked.Increment(ref _gateway.Counters.IngressRefused);
        HttpLog.Refused(_gateway.Logger, new Ident(packet.Header.SrcIdent).ToString(), message);
        InboundExchange.AnswerError(_gateway, packet, single, status, name, message);
        packet.Dispose();
    }
}

/// <summary>
/// The transform towards the app: YARP's copy of the fields, and a look at the app's response
/// (its version and length) so the exchange can end the body with its last chunk.
/// </summary>
internal sealed class IngressTransformer : HttpTransformer
{
    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null && httpContext.Features.Get<InboundExchange>() is { } exchange)
        {
            exchange.AppResponded(proxyResponse.Version, proxyResponse.Content?.Headers.ContentLength);
        }

        return base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
    }
}
