using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Plugin;

/// <summary>
/// A sidecar plugin. The built-in parts (request tracking, rate limits, metrics, log forwarding)
/// use this same contract; third-party plugins are listed in the configuration by assembly path
/// and loaded into their own AssemblyLoadContext.
/// </summary>
/// <remarks>
/// Lifecycle: <see cref="ConfigureServices"/> runs while the sidecar is composed (read the
/// configuration section, validate it, register services; register an
/// <see cref="Microsoft.Extensions.Hosting.IHostedService"/> for background work that lives as
/// long as the sidecar); <see cref="ConfigurePipeline"/> runs once the services exist, before the
/// first packet, to add middleware. A plugin that throws from either stops the start with a
/// message naming it. A middleware that throws on a packet is isolated: the packet is answered
/// (requests) or counted (notifies), and the error is logged with the plugin's name.
/// </remarks>
public interface IKazePlugin
{
    /// <summary>The plugin's name, used in logs, errors and as its configuration section ("plugins:&lt;name&gt;").</summary>
    string Name { get; }

    /// <summary>Reads configuration and registers services. Throw <see cref="PluginConfigurationException"/> listing every problem.</summary>
    void ConfigureServices(PluginContext context, IServiceCollection services);

    /// <summary>Adds middleware to the packet pipeline, in the order this plugin wants them.</summary>
    void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services);
}
