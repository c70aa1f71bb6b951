using Kaze.Core;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host;

internal static partial class HostLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Connected to channel {Channel} as {Ident}")]
    public static partial void Connected(ILogger logger, string channel, Ident ident);

    [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "The handler for {BodyType} (from {Source}) threw; answered {Code}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string bodyType, Ident source, RetCode code);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "No handler for request {BodyType} from {Source}; answered {Code}")]
    public static partial void NoHandlerForRequest(ILogger logger, string bodyType, Ident source, RetCode code);

    [LoggerMessage(EventId = 303, Level = LogLevel.Debug, Message = "No handler for notify {BodyType} from {Source}; dropped")]
    public static partial void NoHandlerForNotify(ILogger logger, string bodyType, Ident source);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Dropped a malformed packet from the sidecar ({Length} bytes): {Reason} ({Count} since start{Suppressed})")]
    public static partial void Malformed(ILogger logger, int length, string reason, long count, string suppressed);

    [LoggerMessage(EventId = 305, Level = LogLevel.Debug, Message = "Response to request {Sequence} arrived after the call ended (timed out or cancelled); dropped")]
    public static partial void LateResponse(ILogger logger, uint sequence);

    [LoggerMessage(EventId = 306, Level = LogLevel.Information, Message = "The sidecar asked this host to exit")]
    public static partial void ExitRequested(ILogger logger);

    [LoggerMessage(EventId = 307, Level = LogLevel.Warning, Message = "Ignored an exit request from {Source}: only this node's sidecar ({Ident}) may send one")]
    public static partial void ForeignExitRequest(ILogger logger, Ident source, Ident ident);

    [LoggerMessage(EventId = 308, Level = LogLevel.Information, Message = "Channel {Channel} ended: {Status}")]
    public static partial void ChannelEnded(ILogger logger, string channel, ChannelStatus status);

    [LoggerMessage(EventId = 309, Level = LogLevel.Error, Message = "Channel {Channel} ended: {Status}; the sidecar is gone")]
    public static partial void SidecarLost(ILogger logger, string channel, ChannelStatus status);

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "The reply to {BodyType} takes {Size} bytes, more than the channel carries ({Max}); answered {Code}")]
    public static partial void ReplyTooLarge(ILogger logger, string bodyType, int size, int max, RetCode code);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "KAZE_SIDECAR_PID is {Expected} but channel {Channel} belongs to pid {Actual}; using the channel anyway")]
    public static partial void SidecarPidMismatch(ILogger logger, int expected, string channel, int actual);

    [LoggerMessage(EventId = 312, Level = LogLevel.Information, Message = "The sidecar asked this host to exit; stopping the application")]
    public static partial void StoppingOnExitRequest(ILogger logger);

    [LoggerMessage(EventId = 313, Level = LogLevel.Warning, Message = "The channel to the sidecar ended ({Status}); stopping the application")]
    public static partial void StoppingOnChannelEnd(ILogger logger, ChannelStatus status);

    [LoggerMessage(EventId = 316, Level = LogLevel.Information, Message = "{Signal} received: requesting this host's exit, as kaze.exit does")]
    public static partial void StopSignal(ILogger logger, string signal);

    [LoggerMessage(EventId = 315, Level = LogLevel.Error, Message = "Channel {Channel} is corrupt and closed: {Detail}")]
    public static partial void Corrupt(ILogger logger, string channel, string detail);

    [LoggerMessage(EventId = 314, Level = LogLevel.Critical, Message = "The reader of channel {Channel} failed; closing the channel")]
    public static partial void ReaderFailed(ILogger logger, Exception exception, string channel);
}
