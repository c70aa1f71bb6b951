using System.Globalization;
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
    public ListenAddress? Listen { get; init; }

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
        ListenAddress? listen = null;
        string listenText = section["listen"] ?? "off";
        if (!string.Equals(listenText.Trim(), "off", StringComparison.OrdinalIgnoreCase))
        {
            if (ListenAddress.TryParse(listenText, out ListenAddress parsed, out string error))
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

/// <summary>HOST:PORT for the metrics endpoint; unlike a peer's address, port 0 (any free port) is allowed.</summary>
/// <param name="Host">An IP literal (IPv6 without brackets) or a host name.</param>
/// <param name="Port">0 to 65535.</param>
internal readonly record struct ListenAddress(string Host, int Port)
{
    public static bool TryParse(string text, out ListenAddress address, out string error)
    {
        address = default;
        error = $"'{text}' is not an address: expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464";
        string t = text.Trim();
        int colon = t.LastIndexOf(':');
        if (colon <= 0 || colon == t.Length - 1)
        {
            return false;
        }

        string host = t[..colon];
        if (host.StartsWith('['))
        {
            if (!host.EndsWith(']') || host.Length < 3)
            {
                return false;
            }

            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            // An IPv6 literal needs brackets, or the port is ambiguous.
            return false;
        }

        if (!int.TryParse(t.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            error = $"'{text}' has no valid port: expected 0-65535 (0: any free port)";
            return false;
        }

        address = new ListenAddress(host, port);
        return true;
    }

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
