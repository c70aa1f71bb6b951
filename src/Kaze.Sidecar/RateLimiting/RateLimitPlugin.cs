using System.Diagnostics.Metrics;
using Kaze.Plugin;
using Kaze.Service;
using Kaze.Sidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// The built-in rate limits (configuration section "rateLimits"): token buckets for all
/// traffic, per source ident and per body type, checked by one middleware named "rateLimits"
/// on every packet that enters the sidecar from its host or the network. Responses are never
/// limited. See docs/rate-limits.md.
/// </summary>
/// <remarks>
/// <see cref="ConfigureServices"/> validates the section (every problem, with its key, in one
/// <see cref="PluginConfigurationException"/>) and registers <see cref="RateLimitCounters"/>;
/// <see cref="ConfigurePipeline"/> adds the middleware, or nothing when no rule is configured.
/// Refusals also go to <see cref="KazeMeter.RateLimited"/> (kaze_rate_limited_total, tagged
/// rule and reason) when the metrics plugin registered it.
/// </remarks>
public sealed class RateLimitPlugin : IKazePlugin
{
    /// <summary>The plugin's name, its configuration section and its pipeline step's name.</summary>
    public const string PluginName = RateLimitOptions.SectionName;

    private readonly TimeProvider _time;

    /// <summary>Creates the plugin on the system clock.</summary>
    public RateLimitPlugin()
        : this(TimeProvider.System)
    {
    }

    /// <summary>Creates the plugin on <paramref name="time"/> (tests drive a fake clock).</summary>
    internal RateLimitPlugin(TimeProvider time) => _time = time;

    /// <inheritdoc/>
    public string Name => PluginName;

    /// <inheritdoc/>
    /// <exception cref="PluginConfigurationException">The "rateLimits" section is invalid; the message lists every problem.</exception>
    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(services);
        RateLimitOptions options = RateLimitOptions.Read(context.RootConfiguration, out List<string> problems);
        if (problems.Count > 0)
        {
            throw new PluginConfigurationException(Name, problems);
        }

        var limiter = new PacketRateLimiter(options, _time);
        services.AddSingleton(options);
        services.AddSingleton(limiter);
        services.AddSingleton(limiter.Counters);
    }

    /// <inheritdoc/>
    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(services);
        RateLimitOptions options = services.GetRequiredService<RateLimitOptions>();
        if (options.IsEmpty)
        {
            return;
        }

        ILogger logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(RateLimitLog.Category);
        RateLimitLog.Configured(logger, Describe(options));
        Counter<long>? refused = services.GetService<KazeMeter>()?.RateLimited;
        CancellationToken stopping = services.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        pipeline.Use(new RateLimitMiddleware(services.GetRequiredService<PacketRateLimiter>(), context.Ident, logger, refused, stopping), Name);
    }

    private static string Describe(RateLimitOptions options) => string.Join("; ", options.Rules.Select(r =>
        $"{r.Name} {r.PermitsPerSecond}/s burst {r.Burst} {(r.Mode == RateLimitMode.Wait ? $"wait ≤ {r.MaxWait.TotalMilliseconds} ms" : "reject")}"));
}
