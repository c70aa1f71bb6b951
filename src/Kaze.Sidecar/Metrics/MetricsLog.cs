using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Metrics;

internal static partial class MetricsLog
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Serving metrics at http://{EndPoint}/metrics (in the background: meter provider built in {ProviderMs:0.0} ms, Kestrel started in {KestrelMs:0.0} ms)")]
    public static partial void Serving(ILogger logger, string endPoint, double providerMs, double kestrelMs);

    [LoggerMessage(EventId = 601, Level = LogLevel.Error, Message = "{Message} The sidecar runs on without the metrics endpoint.")]
    public static partial void ListenFailed(ILogger logger, Exception exception, string message);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Exporting metrics over OTLP ({Protocol}) to {Endpoint} every {IntervalMs} ms")]
    public static partial void ExportingOtlp(ILogger logger, string protocol, Uri endpoint, double intervalMs);

    [LoggerMessage(EventId = 603, Level = LogLevel.Error, Message = "The metrics export could not start; the sidecar runs on without metrics")]
    public static partial void StartFailed(ILogger logger, Exception exception);
}
