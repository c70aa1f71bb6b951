using Kaze.Mesh;
using Kaze.Plugin;
using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// The built-in metrics plugin (section "metrics"): the sidecar's instruments, served at
/// <c>/metrics</c> in the Prometheus text format by Kestrel on <c>metrics:listen</c>, and pushed
/// over OTLP when <c>metrics:otlpEndpoint</c> is set. See docs/metrics.md for every metric.
/// </summary>
/// <remarks>
/// <see cref="KazeMeter"/> is registered whatever the settings, so other parts can always resolve
/// it and feed its instruments; with the endpoint off and no OTLP endpoint nothing listens to
/// them and nothing else is started. The plugin adds no middleware: its only hook into the packet
/// path is the call-latency histogram, which it hands to the request tracker.
/// </remarks>
public sealed class MetricsPlugin : IKazePlugin
{
    /// <inheritdoc/>
    public string Name => "metrics";

    /// <summary>The meter's name; tests give each sidecar its own (the SDK matches meters by name, process-wide).</summary>
    internal string MeterName { get; init; } = KazeMeter.DefaultName;

    /// <inheritdoc/>
    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(context);
        MetricsOptions options = MetricsOptions.Bind(context.RootConfiguration, out List<string> problems)
            ?? throw new PluginConfigurationException(Name, problems);
        string meterName = MeterName;
        services.TryAddSingleton(_ => new KazeMeter(meterName));
        if (!options.Exports)
        {
            return;
        }

        string ident = context.Ident.ToString();
        services.AddSingleton(options);
        services.AddSingleton(sp => new MetricsService(
            options,
            sp.GetRequiredService<KazeMeter>(),
            sp.GetRequiredService<SidecarNode>(),
            sp.GetRequiredService<PeerCorral>(),
            ident,
            sp,
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<MetricsService>());
    }

    /// <inheritdoc/>
    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
        if (services.GetService<MetricsOptions>() is null)
        {
            // Nothing exports: the tracker need not measure.
            return;
        }

        services.GetRequiredService<SidecarNode>().CallDuration = services.GetRequiredService<KazeMeter>().CallDuration;
    }
}
