using Kaze.Host.Hosting;
using Microsoft.Extensions.Logging;
using Kaze.Host.Logging;

// In the DI namespace, as AddKazeHost, so it is found without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Log forwarding as part of the Kaze host integration.</summary>
public static class KazeHostBuilderLoggingExtensions
{
    /// <summary>
    /// Same as <c>logging.AddKaze(configure)</c>: this app's log records are written by its sidecar.
    /// </summary>
    /// <param name="builder">The builder <c>services.AddKazeHost()</c> returned.</param>
    /// <param name="configure">Adjusts the provider's settings, or null.</param>
    /// <returns>The builder.</returns>
    public static IKazeHostBuilder AddLogForwarding(this IKazeHostBuilder builder, Action<KazeLoggerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        KazeLoggingRegistration.Register(builder.Services, configure);
        return builder;
    }
}
