using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Plugin.Hello;

/// <summary>
/// A sample kaze plugin. It answers "hello" requests for this node itself, so they never reach
/// the host; it marks every other packet passing through with an "x-hello-plugin" header; and it
/// runs a background service that says hello once at start.
/// </summary>
/// <remarks>
/// Configuration ("plugins:hello", next to its "assembly"): "greeting", default "hello". The
/// answer to a "hello" request is "&lt;greeting&gt; from &lt;this node's ident&gt;".
/// </remarks>
public sealed class HelloPlugin : IKazePlugin
{
    /// <inheritdoc/>
    public string Name => "hello";

    /// <inheritdoc/>
    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
        HelloOptions options = HelloOptions.Read(context.Configuration, out List<string> problems);
        if (problems.Count > 0)
        {
            throw new PluginConfigurationException(context.Name, problems);
        }

        services.AddSingleton(options);
        services.AddSingleton(new HelloMiddleware(options, context.Ident));
        services.AddHostedService<HelloAnnouncer>();
    }

    /// <inheritdoc/>
    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services) =>
        // The step's name is the plugin's: a failure is logged under it.
        pipeline.Use(services.GetRequiredService<HelloMiddleware>(), context.Name);
}
