using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar;

internal static partial class SidecarLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "No route to {Destination} for {BodyType}; answered UNREACHABLE")]
    public static partial void Unreachable(ILogger logger, string destination, string bodyType);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "No route to {Destination} for notify {BodyType}; dropped")]
    public static partial void NotifyDropped(ILogger logger, string destination, string bodyType);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "Pipeline step {Step} failed on {BodyType} from {Origin}; the packet was answered or dropped")]
    public static partial void PipelineFailed(ILogger logger, Exception exception, string step, string bodyType, string origin);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Sidecar {Ident} serving channel {Channel}")]
    public static partial void Started(ILogger logger, Ident ident, string channel);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Asked the host to exit")]
    public static partial void ExitRequested(ILogger logger);
}
