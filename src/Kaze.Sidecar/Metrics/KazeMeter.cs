using System.Diagnostics.Metrics;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// The sidecar's <see cref="System.Diagnostics.Metrics.Meter"/> and the instruments that parts of
/// kaze feed directly (most metrics are read from the existing counters instead, see
/// src/Kaze.Sidecar/Metrics/README.md). One per sidecar, a singleton in the sidecar's services.
/// </summary>
/// <remarks>
/// Instruments cost next to nothing while no exporter listens (<c>--metrics off</c> and no OTLP
/// endpoint), so callers record unconditionally. Names are Prometheus-style with the
/// <c>kaze_</c> prefix; counters are named without <c>_total</c>, which the Prometheus rendering
/// adds (as OpenTelemetry's Prometheus mapping does), so OTLP and /metrics agree on names.
/// </remarks>
public sealed class KazeMeter : IDisposable
{
    /// <summary>The meter's name, "Kaze" (the instrumentation scope in OTLP).</summary>
    public const string DefaultName = "Kaze";

    /// <summary>Bucket bounds of <c>kaze_call_duration_seconds</c>: 100 µs to 10 s.</summary>
    internal static readonly double[] CallDurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Func<Counter<long>> _createRateLimited;
    private Counter<long>? _rateLimited;

    /// <summary>Creates the meter named <see cref="DefaultName"/>.</summary>
    public KazeMeter()
        : this(DefaultName)
    {
    }

    /// <summary>A meter with another name: tests run several sidecars in one process, and the SDK matches meters by name.</summary>
    internal KazeMeter(string name)
    {
        Meter = new Meter(name, typeof(KazeMeter).Assembly.GetName().Version?.ToString());
        _createRateLimited = () => Meter.CreateCounter<long>(
            "kaze_rate_limited",
            unit: "{packet}",
            description: "Packets refused by a rate limit (requests answered RET_RESOURCE_EXHAUSTED, notifies dropped).");
        CallDuration = Meter.CreateHistogram(
            "kaze_call_duration_seconds",
            unit: "s",
            description: "Time from a request of the host being tracked to its response reaching the host (timeouts included), by ret code.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CallDurationBuckets });
    }

    /// <summary>The meter; its name is what an exporter subscribes to.</summary>
    public Meter Meter { get; }

    /// <summary>
    /// <c>kaze_rate_limited_total</c>: add 1 for each packet a rate limit refuses, tagged
    /// <c>rule</c> (the rule's name, e.g. "total", "perSource", "perBodyType:*") and
    /// <c>reason</c> ("answered": a request answered RET_RESOURCE_EXHAUSTED; "dropped": a notify).
    /// Tag values must come from a small fixed set: never an ident or a body type that is not
    /// itself a configured rule.
    /// </summary>
    /// <remarks>
    /// Made on first use: a sidecar without rate limits never makes it (the counter's code is
    /// compiled at run time, a millisecond of start-up). A counter with no measurement is not
    /// exported either way; one made after the export started is picked up by it.
    /// </remarks>
    public Counter<long> RateLimited => LazyInitializer.EnsureInitialized(ref _rateLimited, _createRateLimited);

    /// <summary><c>kaze_call_duration_seconds</c>, recorded by the request tracker, tagged <c>code</c>.</summary>
    internal Histogram<double> CallDuration { get; }

    /// <inheritdoc/>
    public void Dispose() => Meter.Dispose();
}
