namespace Kaze.Sidecar.Configuration;

/// <summary>
/// The HTTP gateway's settings (<c>http:*</c>, declared in <see cref="SettingsCatalog"/>;
/// docs/http.md), as <see cref="KazeSettings.Http"/> gives them. Plain values: the gateway's own
/// types (Kaze.Http, with ASP.NET and YARP behind it) are only loaded when one of the ports is set.
/// </summary>
public sealed record HttpSettings
{
    /// <summary>The app's port on 127.0.0.1 (http:appPort); null: no ingress.</summary>
    public int? AppPort { get; init; }

    /// <summary>The loopback port for the host (http:port, 0: any); null: no egress.</summary>
    public int? Port { get; init; }

    /// <summary>http:timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>http:window, bytes.</summary>
    public int Window { get; init; } = 1024 * 1024;

    /// <summary>http:bufferBudget, bytes.</summary>
    public long BufferBudget { get; init; } = 64L << 20;

    /// <summary>http:maxExchanges.</summary>
    public int MaxExchanges { get; init; } = 256;

    /// <summary>http:maxRequestBodySize, bytes; null: no limit.</summary>
    public long? MaxRequestBodySize { get; init; }

    /// <summary>http:maxCallBodySize, bytes.</summary>
    public int MaxCallBodySize { get; init; } = 256 * 1024;

    /// <summary>http:appProtocol: "auto", "http1" or "http2".</summary>
    public string AppProtocol { get; init; } = "auto";

    /// <summary>Whether the gateway runs at all: one of the ports is set.</summary>
    public bool Enabled => AppPort is not null || Port is not null;
}
