using System.Diagnostics.Metrics;
using Kaze.Sidecar.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>
/// The production scrape path (SDK meter provider → <see cref="ScrapeExporter"/> →
/// <see cref="PrometheusText"/>) over a meter of the test's own: the SDK matches meters by
/// name, so a unique name keeps parallel tests apart.
/// </summary>
internal sealed class ScrapeHarness : IDisposable
{
    private readonly ScrapeExporter _exporter = new();
    private readonly MeterProvider _provider;

    public ScrapeHarness()
    {
        Meter = new Meter("Kaze.Tests." + Guid.NewGuid().ToString("N"));
        _provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(Meter.Name)
            .AddReader(new BaseExportingMetricReader(_exporter))
            .Build();
    }

    public Meter Meter { get; }

    public string Scrape() => _exporter.Scrape(TimeSpan.FromSeconds(10)) ?? throw new XunitException("The scrape failed: the collection did not complete.");

    public void Dispose()
    {
        _provider.Dispose();
        Meter.Dispose();
    }
}
