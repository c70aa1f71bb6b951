using Kaze.Core;
using Microsoft.Extensions.Logging;

namespace Kaze.Edge;

internal static partial class EdgeLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Channel {Channel} created at {Path}")]
    public static partial void ChannelCreated(ILogger logger, string channel, string path);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Dropped a malformed packet from the host ({Length} bytes): {Reason}")]
    public static partial void MalformedFromHost(ILogger logger, int length, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Dropped a packet for the host: {Size} bytes is more than its ring takes ({Max})")]
    public static partial void TooLargeForHost(ILogger logger, int size, int max);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Dropped a packet for the host: {Queued} packets already wait for it (it reads too slowly)")]
    public static partial void HostQueueFull(ILogger logger, int queued);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "The host's end of channel {Channel} ended: {Status}")]
    public static partial void HostEnded(ILogger logger, string channel, ChannelStatus status);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "The channel from the host is corrupt; closing channel {Channel}")]
    public static partial void Corrupt(ILogger logger, string channel);

    [LoggerMessage(EventId = 106, Level = LogLevel.Error, Message = "The packet handler threw; packet {BodyType} dropped")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string bodyType);

    [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "A burst callback of the host edge threw")]
    public static partial void BurstFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 108, Level = LogLevel.Error, Message = "Dropped a packet for the host: its header changed after it was sent ({BodyType})")]
    public static partial void WriteFailed(ILogger logger, Exception exception, string bodyType);
}
