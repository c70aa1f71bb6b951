using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Host.Hosting;

/// <summary>Configures the Kaze host integration that <c>AddKazeHost</c> registered.</summary>
public interface IKazeHostBuilder
{
    /// <summary>The services being configured.</summary>
    IServiceCollection Services { get; }

    /// <summary>Registers the handler of <paramref name="bodyType"/>; added to the client before it starts.</summary>
    /// <param name="bodyType">The body type, e.g. "echo".</param>
    /// <param name="handler">The handler (see <see cref="KazeClient.AddHandler"/>).</param>
    /// <returns>This builder.</returns>
    IKazeHostBuilder AddHandler(string bodyType, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler);

    /// <summary>Registers <typeparamref name="THandler"/> (a singleton) as the handler of <paramref name="bodyType"/>.</summary>
    /// <typeparam name="THandler">The handler type; registered as a singleton unless already registered.</typeparam>
    /// <param name="bodyType">The body type.</param>
    /// <returns>This builder.</returns>
    IKazeHostBuilder AddHandler<THandler>(string bodyType)
        where THandler : class, IKazeHandler;

    /// <summary>
    /// Replaces connecting from the environment with <paramref name="connect"/>, e.g.
    /// <c>sp => sidecar.CreateClient()</c> with an <see cref="Testing.InMemorySidecar"/> in tests.
    /// </summary>
    /// <param name="connect">Creates the client (not started) when it is first needed.</param>
    /// <returns>This builder.</returns>
    IKazeHostBuilder ConnectWith(Func<IServiceProvider, KazeClient> connect);
}
