namespace Kaze.Http;

/// <summary>What the HTTP gateway of one sidecar does (settings <c>http:*</c>, docs/http.md).</summary>
/// <remarks>
/// Defaults: no app port (no ingress), no egress port, 100 s timeout, 1 MiB window out of a 64 MiB buffer budget, 256
/// exchanges each way, no body size limit, 256 KiB for a single-packet exchange, the client's
/// HTTP version towards the app.
/// </remarks>
public sealed class HttpGatewayOptions
{
    /// <summary>The app's HTTP port on 127.0.0.1: requests that reach this node over the mesh are forwarded there. Null: this node has no HTTP app (such requests get a 502).</summary>
    public int? AppPort { get; init; }

    /// <summary>The loopback port the host calls the mesh through (<c>KAZE_HTTP_PORT</c>); 0 picks a free one. Null: no such port.</summary>
    public int? Port { get; init; }

    /// <summary>
    /// The longest wait for the response head after the request head left (then 504), and the
    /// longest pause in a body transfer (then the exchange is aborted). Default 100 s, as YARP's.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Body bytes the other side may send this one ahead of the reader, per exchange and direction, at most. Default 1 MiB.</summary>
    public int Window { get; init; } = 1024 * 1024;

    /// <summary>
    /// Body bytes this gateway lets other sides send ahead of its readers, all exchanges together:
    /// with many bodies open, each gets this shared among them (at least one 64 KiB chunk, at most
    /// <see cref="Window"/>). Default 64 MiB.
    /// </summary>
    public long BufferBudget { get; init; } = 64L << 20;

    /// <summary>Exchanges in flight at once through the loopback port, and, separately, from the mesh to the app. Default 256.</summary>
    public int MaxExchanges { get; init; } = 256;

    /// <summary>The largest request body the loopback port takes (413 beyond it); null: no limit (bodies are streamed). Default null.</summary>
    public long? MaxRequestBodySize { get; init; }

    /// <summary>The largest body of a single-packet exchange: a Kaze-Body-Type call's request, an <c>http</c> packet's response. Default 256 KiB.</summary>
    public int MaxCallBodySize { get; init; } = 256 * 1024;

    /// <summary>The HTTP version spoken to the app. Default <see cref="HttpAppProtocol.Auto"/>.</summary>
    public HttpAppProtocol AppProtocol { get; init; } = HttpAppProtocol.Auto;

    /// <summary>Whether any part of the gateway is configured.</summary>
    public bool Enabled => AppPort is not null || Port is not null;
}

/// <summary>The HTTP version the gateway speaks to its app.</summary>
public enum HttpAppProtocol
{
    /// <summary>The version the client spoke: HTTP/2 (cleartext, prior knowledge) for an HTTP/2 client, HTTP/1.1 otherwise.</summary>
    Auto = 0,

    /// <summary>Always HTTP/1.1.</summary>
    Http1 = 1,

    /// <summary>Always HTTP/2 over cleartext (prior knowledge): gRPC apps.</summary>
    Http2 = 2,
}
