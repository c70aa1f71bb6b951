using Kaze.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Host.Hosting;

/// <summary>
/// Connects the client when the application starts, adds the DI-registered handlers, starts it,
/// and turns the sidecar's exit request (or the loss of the sidecar) into a graceful stop of the
/// application. On stop, lets in-flight handlers finish and closes the channel.
/// </summary>
internal sealed class KazeHostedService : IHostedService
{
    private readonly IServiceProvider _services;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private KazeClient? _client;
    private CancellationTokenRegistration _exitRegistration;
    private volatile bool _stopping;
    // 1 once this service has asked the application to stop (the exit request or the channel's end, whichever first).
    private int _stopRequested;

    public KazeHostedService(IServiceProvider services, IHostApplicationLifetime lifetime, ILoggerFactory? loggerFactory = null)
    {
        _services = services;
        _lifetime = lifetime;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kaze.Host");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Resolved here, not injected: a missing environment fails the start, with its message.
        KazeClient client = _services.GetRequiredService<KazeClient>();
        foreach (KazeHandlerRegistration registration in _services.GetServices<KazeHandlerRegistration>())
        {
            client.AddHandler(registration.BodyType, registration.Resolve(_services));
        }

        client.Start();
        _client = client;
        _exitRegistration = client.ExitRequested.UnsafeRegister(
            static s =>
            {
                var self = (KazeHostedService)s!;
                // Also cancelled when the channel ends (its status is set first): say which.
                Task<ChannelStatus> completion = self._client!.Completion;
                if (completion.IsCompleted)
                {
                    self.OnChannelEnded(completion.Result);
                }
                else if (Interlocked.Exchange(ref self._stopRequested, 1) == 0)
                {
                    HostLog.StoppingOnExitRequest(self._logger);
                    self._lifetime.StopApplication();
                }
            },
            this);
        _ = client.Completion.ContinueWith(
            static (t, s) => ((KazeHostedService)s!).OnChannelEnded(t.Result),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        await _exitRegistration.DisposeAsync().ConfigureAwait(false);
        if (_client is not null)
        {
            await _client.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void OnChannelEnded(ChannelStatus status)
    {
        if (_stopping || Interlocked.Exchange(ref _stopRequested, 1) != 0)
        {
            return;
        }

        // Without its sidecar the host can neither be reached nor reach anyone.
        HostLog.StoppingOnChannelEnd(_logger, status);
        _lifetime.StopApplication();
    }
}
