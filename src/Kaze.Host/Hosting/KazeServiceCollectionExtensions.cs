using Kaze.Host;
using Kaze.Host.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// In the DI namespace, as the framework's own Add* methods, so they are found without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Kaze.Host with the Generic Host.</summary>
public static class KazeServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="KazeClient"/> singleton, connected from the environment (<c>KAZE_CHANNEL</c>,
    /// <c>KAZE_IDENT</c>, <c>KAZE_SIDECAR_PID</c>) when the application starts, and a hosted service that
    /// starts it with the handlers registered through the returned builder. The sidecar's exit request,
    /// or the loss of the sidecar, stops the application gracefully
    /// (<see cref="IHostApplicationLifetime.StopApplication"/>); stopping lets in-flight handlers finish,
    /// then closes the channel.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Adjusts the client's settings, or null.</param>
    /// <returns>A builder for handlers and the connection.</returns>
    public static IKazeHostBuilder AddKazeHost(this IServiceCollection services, Action<KazeClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<KazeClientOptions> options = services.AddOptions<KazeClientOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(static sp =>
        {
            KazeClientOptions settings = sp.GetRequiredService<IOptions<KazeClientOptions>>().Value;
            settings.Validate();
            KazeConnector? connector = sp.GetService<KazeConnector>();
            return connector is not null
                ? connector.Connect(sp)
                : KazeClient.ConnectFromEnvironment(settings, sp.GetService<ILoggerFactory>());
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KazeHostedService>());
        return new KazeHostBuilder(services);
    }
}
