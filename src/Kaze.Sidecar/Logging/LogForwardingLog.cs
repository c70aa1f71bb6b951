using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Logging;

/// <summary>What log forwarding itself logs (never the host's records: those keep their own level and category).</summary>
internal static partial class LogForwardingLog
{
    [LoggerMessage(EventId = 910, Level = LogLevel.Warning, Message = "A log record from the host was not understood ({Error}); it was dropped. Further ones are logged at debug level and counted")]
    public static partial void FirstMalformed(ILogger logger, string error);

    [LoggerMessage(EventId = 911, Level = LogLevel.Debug, Message = "A log record from the host was not understood ({Error}); dropped")]
    public static partial void Malformed(ILogger logger, string error);
}
