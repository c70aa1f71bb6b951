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

    /// <summary>Reads the section; every problem is listed, each with its key. Null options if there is any.</summary>
    public static MetricsOptions? Bind(IConfiguration section, out List<string> problems)
    {
        problems = [];
        NodeAddress? listen = null;
        string listenText = (section["listen"] ?? "off").Trim();
        if (!string.Equals(listenText, "off", StringComparison.OrdinalIgnoreCase))
        {
            if (NodeAddress.TryParse(listenText, allowPortZero: true, out NodeAddress? parsed, out string error))
            {
                listen = parsed;
            }
            else
            {
                problems.Add($"metrics:listen: {error}, or \"off\"");
            }
        }

        Uri? otlp = null;
        string? otlpText = section["otlpEndpoint"];
        if (!string.IsNullOrWhiteSpace(otlpText))
        {
            if (Uri.TryCreate(otlpText.Trim(), UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https")
            {
                otlp = uri;
            }
            else
            {
                problems.Add($"metrics:otlpEndpoint: '{otlpText}' is not an http:// or https:// URL, e.g. http://127.0.0.1:4317");
            }
        }

        string protocol = (section["otlpProtocol"] ?? "grpc").Trim().ToLowerInvariant();
        if (protocol is not ("grpc" or "http/protobuf"))
        {
            problems.Add($"metrics:otlpProtocol: '{section["otlpProtocol"]}' is not grpc or http/protobuf");
        }

        TimeSpan interval = TimeSpan.FromSeconds(60);
        string? intervalText = section["otlpInterval"];
        if (intervalText is not null)
        {
            if (!SettingValues.TryParseDuration(intervalText, out interval, out string error))
            {
                problems.Add($"metrics:otlpInterval: {error}");
            }
            else if (interval < TimeSpan.FromMilliseconds(100) || interval.TotalMilliseconds > int.MaxValue)
            {
                problems.Add($"metrics:otlpInterval: {intervalText} must be from 100ms to 24d");
            }
        }

        return problems.Count > 0 ? null : new MetricsOptions
        {
            Listen = listen,
            OtlpEndpoint = otlp,
            OtlpHttp = protocol == "http/protobuf",
            OtlpInterval = interval,
        };
    }
}
