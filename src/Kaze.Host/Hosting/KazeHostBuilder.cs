using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Kaze.Host.Hosting;

internal sealed class KazeHostBuilder(IServiceCollection services) : IKazeHostBuilder
{
    public IServiceCollection Services { get; } = services;

    public IKazeHostBuilder AddHandler(string bodyType, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        ArgumentNullException.ThrowIfNull(handler);
        Services.AddSingleton(new KazeHandlerRegistration(bodyType, _ => handler));
        return this;
    }

    public IKazeHostBuilder AddHandler<THandler>(string bodyType)
        where THandler : class, IKazeHandler
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        Services.TryAddSingleton<THandler>();
        Services.AddSingleton(new KazeHandlerRegistration(bodyType, sp =>
        {
            IKazeHandler handler = sp.GetRequiredService<THandler>();
            return handler.HandleAsync;
        }));
        return this;
    }

    public IKazeHostBuilder ConnectWith(Func<IServiceProvider, KazeClient> connect)
    {
        ArgumentNullException.ThrowIfNull(connect);
        Services.RemoveAll<KazeConnector>();
        Services.AddSingleton(new KazeConnector(connect));
        return this;
    }
}

/// <summary>One handler registered through DI, resolved when the client starts.</summary>
internal sealed record KazeHandlerRegistration(string BodyType, Func<IServiceProvider, Func<KazeRequest, CancellationToken, ValueTask<KazeReply>>> Resolve);

/// <summary>How the DI-registered client connects, when not from the environment.</summary>
internal sealed record KazeConnector(Func<IServiceProvider, KazeClient> Connect);
