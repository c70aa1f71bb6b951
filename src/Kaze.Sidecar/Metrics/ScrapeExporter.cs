using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// A pull exporter: nothing is exported until <see cref="Scrape"/> asks the SDK to collect, and
/// the batch the SDK hands back is rendered as Prometheus text on the caller's thread.
/// </summary>
/// <remarks>
/// Wrapped in a <see cref="BaseExportingMetricReader"/>, which sets <see cref="Collect"/> because
/// the exporter is pull-only. The SDK lets concurrent collects share one export, which would hand
/// one scrape's text to another; <see cref="_gate"/> makes scrapes take turns instead. Temporality
/// is the reader's default, cumulative, as Prometheus expects.
/// </remarks>
[ExportModes(ExportModes.Pull)]
internal sealed class ScrapeExporter : BaseExporter<Metric>, IPullMetricExporter
{
    // One scrape at a time: _target belongs to the scrape that holds it.
    private readonly Lock _gate = new();

    // Where Export writes; set only while a scrape holds _gate and its collect runs.
    private StringBuilder? _target;

    /// <summary>Set by the reader: runs a collection, which calls <see cref="Export"/>; false if it failed or timed out.</summary>
    public Func<int, bool>? Collect { get; set; }

    /// <summary>Collects every instrument now and renders them; null if the reader is gone or the collection failed.</summary>
    public string? Scrape(TimeSpan timeout)
    {
        lock (_gate)
        {
            Func<int, bool>? collect = Collect;
            if (collect is null)
            {
                return null;
            }

            var text = new StringBuilder(8192);
            _target = text;
            try
            {
                return collect((int)timeout.TotalMilliseconds) ? text.ToString() : null;
            }
            finally
            {
                _target = null;
            }
        }
    }

    /// <inheritdoc/>
    public override ExportResult Export(in Batch<Metric> batch)
    {
        StringBuilder? text = _target;
        if (text is null)
        {
            // A collect that was not a scrape's (the SDK's own at shutdown): nothing to render into.
            return ExportResult.Failure;
        }

        var families = new HashSet<string>(StringComparer.Ordinal);
        foreach (Metric metric in batch)
        {
            PrometheusText.AppendMetric(text, metric, families);
        }

        return ExportResult.Success;
    }
}
