using Kaze.Core;
using Microsoft.Extensions.Logging;

namespace Kaze.Edge;

internal static partial class EdgeLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Channel {Channel} created at {Path}")]
    public static partial void ChannelCreated(ILogger logger, string channel, string path);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Dropped a malformed packet from the host ({Length} bytes): {Reason} ({Count} since start{Suppressed})")]
    public static partial void MalformedFromHost(ILogger logger, int length, string reason, long count, string suppressed);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Dropped a packet for the host: {Size} bytes is more than its ring takes ({Max}) ({Count} since start{Suppressed})")]
    public static partial void TooLargeForHost(ILogger logger, int size, int max, long count, string suppressed);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Dropped a packet for the host: {Queued} packets already wait for it (it reads too slowly) ({Count} since start{Suppressed})")]
    public static partial void HostQueueFull(ILogger logger, int queued, long count, string suppressed);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "{Suppressed} more {What} on channel {Channel} were not logged (they came too fast)")]
    public static partial void Suppressed(ILogger logger, long suppressed, string what, string channel);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "The edge's threads of channel {Channel} did not stop within {Seconds} s: the file stays mapped until kaze exits")]
    public static partial void ThreadsDidNotStop(ILogger logger, string channel, double seconds);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "The host's end of channel {Channel} ended: {Status}")]
    public static partial void HostEnded(ILogger logger, string channel, ChannelStatus status);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "Channel {Channel} is corrupt and closed: {Detail}")]
    public static partial void Corrupt(ILogger logger, string channel, string detail);

    [LoggerMessage(EventId = 106, Level = LogLevel.Error, Message = "The packet handler threw; packet {BodyType} dropped{Suppressed}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string bodyType, string suppressed);

    [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "A burst callback of the host edge threw")]
    public static partial void BurstFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 108, Level = LogLevel.Error, Message = "Dropped a packet for the host: its header changed after it was sent ({BodyType})")]
    public static partial void WriteFailed(ILogger logger, Exception exception, string bodyType);
}
