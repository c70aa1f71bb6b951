using System.Diagnostics.CodeAnalysis;
using Kaze.Plugin;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Plugins;
using Microsoft.Extensions.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>The plugins every sidecar runs, in pipeline order (outermost first), then the ones the configuration lists.</summary>
internal static class BuiltInPlugins
{
    /// <summary>
    /// The built-in plugins, then the third-party ones <paramref name="configuration"/> lists under
    /// "plugins" (none when it is null). Throws <see cref="Kaze.Sidecar.Hosting.PluginException"/>,
    /// naming the plugin, when one cannot be loaded.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "PluginLoader is called only where JitOnlyFeatures.IsSupported: a Native AOT build trims the call away (the switch is a trimming substitution there).")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above: only where JitOnlyFeatures.IsSupported.")]
    public static IReadOnlyList<IKazePlugin> Create(IConfiguration? configuration = null) =>
    [
        new Kaze.Sidecar.Logging.LogForwardingPlugin(),
        new Kaze.Sidecar.Metrics.MetricsPlugin(),
        new Kaze.Sidecar.RateLimiting.RateLimitPlugin(),
        // A Native AOT build has no plugin loader: it defers a configuration with plugins to the JIT build (JitBuild).
        .. configuration is null || !JitOnlyFeatures.IsSupported ? Array.Empty<IKazePlugin>() : PluginLoader.Load(configuration),
    ];
}
