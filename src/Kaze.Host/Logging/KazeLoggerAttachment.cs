using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kaze.Host.Logging;

/// <summary>
/// Attaches the DI-registered <see cref="KazeClient"/> to the <see cref="KazeLoggerProvider"/> once
/// every hosted service has started, and flushes the provider when the application stops.
/// </summary>
/// <remarks>
/// <para>
/// The provider cannot take the client in its constructor: the client's own logger factory is
/// built from the providers, the provider among them. Attaching in <see cref="StartedAsync"/>, after
/// <c>AddKazeHost</c>'s hosted service connected the client, makes the order of registration
/// irrelevant for the start; records logged before then wait in the provider's queue.
/// </para>
/// <para>
/// Stopping flushes twice: in <see cref="StoppingAsync"/>, before any service stops, and in
/// <see cref="StopAsync"/>, which catches what was logged since (ApplicationStopping callbacks,
/// services stopped earlier). Hosted services stop in reverse order of registration, so the second
/// flush comes before the client closes when this service was registered after <c>AddKazeHost</c>'s:
/// always with <c>AddKazeHost().AddLogForwarding()</c>, and with <c>logging.AddKaze()</c> called after
/// <c>AddKazeHost()</c>. Whatever is logged once the channel has closed is dropped (counted).
/// </para>
/// </remarks>
internal sealed class KazeLoggerAttachment(KazeLoggerProvider provider, IServiceProvider services) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // None without AddKazeHost: the app may have attached a client of its own by now.
        KazeClient? client = services.GetService<KazeClient>();
        if (client is not null && !provider.IsAttached)
        {
            provider.Attach(client);
        }

        if (!provider.IsAttached)
        {
            // Records would wait in the queue for a client that never comes: say so at start.
            throw new InvalidOperationException(
                "logging.AddKaze() sends log records through a KazeClient, and the application has none: call services.AddKazeHost(), or attach your client with KazeLoggerProvider.Attach(client) before the application has started.");
        }

        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => FlushAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => FlushAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!provider.IsAttached)
        {
            return;
        }

        try
        {
            await provider.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Out of time: what is left is dropped when the channel closes.
        }
    }
}
