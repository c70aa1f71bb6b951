using Kaze.Plugin;
using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Logging;

/// <summary>
/// Built-in plugin "logForwarding": the host's log records (<c>log</c> notifies, sent by e.g. the
/// .NET <c>KazeLoggerProvider</c>) are written through the sidecar's own sinks, in category
/// <see cref="HostCategory"/>.&lt;the host's category&gt; and tagged with the host's ident, and never
/// routed further. Their levels are filtered as every other area's ("log:levels": { "Host": "info" }).
/// </summary>
/// <remarks>
/// It has no settings. Put it first in the pipeline: the records are between the host and its
/// sidecar, and should pass no rate limit or mesh metric on the way. It registers
/// <see cref="LogForwardingCounters"/> as a service.
/// </remarks>
public sealed class LogForwardingPlugin : IKazePlugin
{
    /// <summary>The plugin's name.</summary>
    public const string PluginName = "logForwarding";

    /// <summary>The category of the host's records, and the prefix of "Host.&lt;the host's category&gt;".</summary>
    public const string HostCategory = "Host";

    /// <inheritdoc/>
    public string Name => PluginName;

    /// <inheritdoc/>
    public void ConfigureServices(PluginContext context, IServiceCollection services) => services.TryAddSingleton(_ => new LogForwardingCounters());

    /// <inheritdoc/>
    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(services);
        var middleware = new HostLogMiddleware(
            services.GetRequiredService<ILoggerFactory>(),
            context.Ident,
            services.GetRequiredService<LogForwardingCounters>());
        pipeline.Use(middleware, Name);
    }
}
