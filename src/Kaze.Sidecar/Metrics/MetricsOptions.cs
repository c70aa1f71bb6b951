using Kaze.Resolver;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Metrics;

/// <summary>How the sidecar exports its metrics; bound from the "metrics" section.</summary>
/// <remarks>
/// Defaults (from <see cref="SettingsCatalog"/>): <c>metrics:listen</c> 127.0.0.1:9464, loopback
/// only unless told otherwise; port 0 picks a free port (logged, and exposed by the endpoint).
/// <c>metrics:otlpEndpoint</c> none (no OTLP export); <c>metrics:otlpProtocol</c> grpc;
/// <c>metrics:otlpInterval</c> 60s.
/// </remarks>
internal sealed record MetricsOptions
{
    /// <summary>Where /metrics is served; null for "off".</summary>
    public NodeAddress? Listen { get; init; }

    /// <summary>The OTLP collector's endpoint; null for no OTLP export.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>True for OTLP over HTTP with protobuf bodies, false for gRPC.</summary>
    public bool OtlpHttp { get; init; }

    /// <summary>Time between two OTLP exports.</summary>
    public TimeSpan OtlpInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>True if anything exports: the endpoint or OTLP.</summary>
    public bool Exports => Listen is not null || OtlpEndpoint is not null;

    /// <summary>
    /// Reads the "metrics" settings of <paramref name="configuration"/> (the whole configuration)
    /// through <see cref="SettingsCatalog"/>; every problem is listed, each with its key. Null
    /// options if there is any. A configuration without <c>metrics:listen</c> at all (an embedded
    /// sidecar, a test) serves no endpoint: kaze's own always has it, from the defaults layer.
    /// </summary>
    public static MetricsOptions? Bind(IConfiguration configuration, out List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        problems = [];
        var options = new MetricsOptions
        {
            Listen = configuration[SettingsCatalog.MetricsListen.Path] is null ? null : SettingsCatalog.MetricsListen.Read(configuration, problems),
            OtlpEndpoint = SettingsCatalog.OtlpEndpoint.Read(configuration, problems),
            OtlpHttp = SettingsCatalog.OtlpHttp.Read(configuration, problems),
            OtlpInterval = SettingsCatalog.OtlpInterval.Read(configuration, problems),
        };
        return problems.Count > 0 ? null : options;
    }
}
