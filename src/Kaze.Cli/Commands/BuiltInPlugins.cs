using Kaze.Plugin;
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
    public static IReadOnlyList<IKazePlugin> Create(IConfiguration? configuration = null) =>
    [
        new Kaze.Sidecar.Logging.LogForwardingPlugin(),
        new Kaze.Sidecar.Metrics.MetricsPlugin(),
        new Kaze.Sidecar.RateLimiting.RateLimitPlugin(),
        .. configuration is null ? Array.Empty<IKazePlugin>() : PluginLoader.Load(configuration),
    ];
}
