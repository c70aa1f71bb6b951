using Kaze.Plugin;
using Kaze.Service;
using Microsoft.Extensions.DependencyInjection;

// Plugins the loader tests load from this test assembly (by "type": there are several). Each is
// loaded into a load context of its own, as a second copy of this assembly: they share nothing
// with the tests but the contract, so what they report goes through services of shared types.
namespace Kaze.Sidecar.Tests.Plugins.TestPlugins;

/// <summary>Its constructor throws.</summary>
public sealed class ThrowingConstructorPlugin : IKazePlugin
{
    public ThrowingConstructorPlugin() => throw new InvalidOperationException("constructor boom");

    public string Name => "unused";

    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
    }

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
    }
}

/// <summary>Its ConfigureServices throws.</summary>
public sealed class ThrowingServicesPlugin : IKazePlugin
{
    public string Name => "unused";

    public void ConfigureServices(PluginContext context, IServiceCollection services) =>
        throw new InvalidOperationException("services boom");

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
    }
}

/// <summary>Its ConfigurePipeline throws.</summary>
public sealed class ThrowingPipelinePlugin : IKazePlugin
{
    public string Name => "unused";

    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
    }

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services) =>
        throw new InvalidOperationException("pipeline boom");
}

/// <summary>
/// Says what context it got (name, its "x" setting) through a <see cref="Tuple{T1, T2}"/>
/// service, and names itself differently from its configuration key.
/// </summary>
public sealed class ReportingPlugin : IKazePlugin
{
    public string Name => "a-name-of-its-own";

    public void ConfigureServices(PluginContext context, IServiceCollection services) =>
        services.AddSingleton(Tuple.Create(context.Name, context.Configuration["x"]));

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services) =>
        pipeline.Use((packet, next) => next(packet), "reporting-step");
}

/// <summary>
/// A middleware that throws on "boom" (at once) and on "boom.async" (after an await), added
/// under a name of its own: the sidecar must log the failure under the plugin's name.
/// </summary>
public sealed class ThrowingMiddlewarePlugin : IKazePlugin
{
    public string Name => "unused";

    public void ConfigureServices(PluginContext context, IServiceCollection services)
    {
    }

    public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
    {
        pipeline.Use((packet, next) => packet.Header.BodyType == "boom" ? throw new InvalidOperationException("middleware boom") : next(packet), "inner-step");
        pipeline.Use(ThrowLaterAsync, "inner-async-step");
    }

    private static async ValueTask ThrowLaterAsync(PacketContext packet, PacketDelegate next)
    {
        if (packet.Header.BodyType == "boom.async")
        {
            await Task.Yield();
            throw new InvalidOperationException("async middleware boom");
        }

        await next(packet);
    }
}

/// <summary>Abstract: never a candidate.</summary>
public abstract class AbstractPlugin : IKazePlugin
{
    public abstract string Name { get; }

    public abstract void ConfigureServices(PluginContext context, IServiceCollection services);

    public abstract void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services);
}
