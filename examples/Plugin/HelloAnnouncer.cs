using Kaze.Plugin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Plugin.Hello;

/// <summary>
/// The plugin's background work: an <see cref="IHostedService"/> lives as long as the sidecar.
/// This one only logs once at start, to show where such work goes.
/// </summary>
internal sealed partial class HelloAnnouncer(HelloMiddleware middleware, ILogger<HelloAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Ready(logger, HelloMiddleware.BodyType, middleware.Answer);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Hello plugin ready: answers \"{BodyType}\" requests with \"{Answer}\"")]
    private static partial void Ready(ILogger logger, string bodyType, string answer);
}
