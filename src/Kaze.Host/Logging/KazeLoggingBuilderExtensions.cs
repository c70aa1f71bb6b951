using Kaze.Host.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// In the logging namespace, as the framework's own AddConsole, so it is found without a using.
namespace Microsoft.Extensions.Logging;

/// <summary>Adds the <see cref="KazeLoggerProvider"/>: the app's logs written by its sidecar.</summary>
public static class KazeLoggingBuilderExtensions
{
    /// <summary>
    /// Sends this app's log records to its sidecar, which writes them through its own sinks tagged
    /// with this node's ident (see <see cref="KazeLoggerProvider"/>). The client registered by
    /// <c>services.AddKazeHost()</c> is attached once the application has started; records logged
    /// before then wait in the provider's queue. Filter with the provider alias <c>Kaze</c>.
    /// </summary>
    /// <remarks>
    /// Records logged while the application stops are flushed before the client closes when this
    /// is called after <c>services.AddKazeHost()</c> (or use <c>AddKazeHost().AddLogForwarding()</c>).
    /// </remarks>
    /// <param name="builder">The logging builder.</param>
    /// <param name="configure">Adjusts the provider's settings, or null.</param>
    /// <returns>The builder.</returns>
    public static ILoggingBuilder AddKaze(this ILoggingBuilder builder, Action<KazeLoggerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        KazeLoggingRegistration.Register(builder.Services, configure);
        return builder;
    }
}

/// <summary>The registrations behind <c>AddKaze</c> and <c>AddLogForwarding</c>; idempotent.</summary>
internal static class KazeLoggingRegistration
{
    public static void Register(IServiceCollection services, Action<KazeLoggerOptions>? configure)
    {
        OptionsBuilder<KazeLoggerOptions> options = services.AddOptions<KazeLoggerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton(static sp => new KazeLoggerProvider(sp.GetRequiredService<IOptions<KazeLoggerOptions>>().Value));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, KazeLoggerProvider>(static sp => sp.GetRequiredService<KazeLoggerProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KazeLoggerAttachment>());
    }
}
