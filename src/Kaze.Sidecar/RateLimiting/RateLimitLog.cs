using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>Log events of the rate limits (event ids 650–659), category "Kaze.RateLimits".</summary>
internal static partial class RateLimitLog
{
    public const string Category = "Kaze.RateLimits";

    [LoggerMessage(EventId = 650, Level = LogLevel.Debug, Message = "Rate limit {Rule} refused request {BodyType} from {Source} ({Origin}); answered RESOURCE_EXHAUSTED")]
    public static partial void Answered(ILogger logger, string rule, string bodyType, Ident source, PacketOrigin origin);

    [LoggerMessage(EventId = 651, Level = LogLevel.Debug, Message = "Rate limit {Rule} refused {BodyType} from {Source} ({Origin}), which expects no answer; dropped")]
    public static partial void Dropped(ILogger logger, string rule, string bodyType, Ident source, PacketOrigin origin);

    [LoggerMessage(EventId = 652, Level = LogLevel.Trace, Message = "Rate limit {Rule} holds {BodyType} from {Source} for {DelayMs} ms")]
    public static partial void Delayed(ILogger logger, string rule, string bodyType, Ident source, double delayMs);

    [LoggerMessage(EventId = 653, Level = LogLevel.Information, Message = "Rate limits: {Rules}")]
    public static partial void Configured(ILogger logger, string rules);
}
