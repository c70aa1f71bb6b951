using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Caching;

internal static partial class CachingLog
{
    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Looking up {Key} failed; serving the answer that expired {StaleFor} ago (at most {MaxStaleness}); failures for this key are reported once per {Interval}")]
    public static partial void ServingStale(ILogger logger, Exception exception, string key, TimeSpan staleFor, TimeSpan maxStaleness, TimeSpan interval);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "Looking up {Key} failed and no usable earlier answer is cached; failures for this key are reported once per {Interval}")]
    public static partial void LookupFailed(ILogger logger, Exception exception, string key, TimeSpan interval);

    [LoggerMessage(EventId = 502, Level = LogLevel.Debug, Message = "The resolver cache holds {Count} keys, more than {Max}; removed {Removed}")]
    public static partial void Trimmed(ILogger logger, int count, int max, int removed);
}
