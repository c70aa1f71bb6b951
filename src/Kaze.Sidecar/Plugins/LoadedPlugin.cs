using Kaze.Plugin;
using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Plugins;

/// <summary>
/// A third-party plugin as the sidecar sees it: named by its configuration key, configured from
/// "plugins:&lt;name&gt;", and with everything it adds to the pipeline made one step under that
/// name, so a failure is logged with the plugin's name whatever names the plugin used.
/// </summary>
internal sealed class LoadedPlugin : IKazePlugin
{
    private PluginContext? _context;

    public LoadedPlugin(string name, IKazePlugin plugin, string assemblyPath)
    {
        Name = name;
        Plugin = plugin;
        AssemblyPath = assemblyPath;
    }

    public string Name { get; }

    /// <summary>The plugin's own object.</summary>
    public IKazePlugin Plugin { get; }

    /// <summary>Where it was loaded from.</summary>
    public string AssemblyPath { get; }

    public void ConfigureServices(PluginContext context, IServiceCollection services) =>
        Plugin.ConfigureServices(Own(context), services);

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
        var own = new PipelineBuilder(services);
        Plugin.ConfigurePipeline(Own(context), own, services);
        ILogger logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(PluginLog.Category);
        PluginLog.Added(logger, Name, Plugin.GetType().FullName!, AssemblyPath, own.Names.Count == 0 ? "no middleware" : string.Join(", ", own.Names));
        if (own.Names.Count > 0)
        {
            pipeline.Use(next => PluginStep.Build(own, next, Name), Name);
        }
    }

    /// <summary>The context the plugin sees: its name and section are the configuration's, not whatever SidecarApp guessed from the plugin's own Name.</summary>
    private PluginContext Own(PluginContext given) =>
        _context ??= new PluginContext(
            Name,
            given.RootConfiguration.GetSection(PluginLoader.SectionName + ":" + Name),
            given.RootConfiguration,
            given.Ident);
}
