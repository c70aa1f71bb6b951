using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Mesh;

/// <summary>Log events of the corral (event ids 400–419). {Peer} is "address (ident X)" or "address (ident unknown)".</summary>
internal static partial class CorralLog
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Listening for other sidecars on {EndPoint}{Secret}")]
    public static partial void Listening(ILogger logger, string endPoint, string secret);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Connected to {Peer}, {Direction}, protocol {Version}, max frame {MaxFrame}")]
    public static partial void Connected(ILogger logger, string peer, ConnectionDirection direction, uint version, int maxFrame);

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Closed the connection with {Peer}: {Failure}: {Reason}{Suppressed}")]
    public static partial void Refused(ILogger logger, string peer, string failure, string reason, string suppressed);

    [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "The connection with {Peer} ended: {Reason}{Suppressed}")]
    public static partial void Ended(ILogger logger, string peer, string reason, string suppressed);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "Cannot reach {Ident}: {Failure}: {Reason}; {Dropped} queued packets undeliverable; next attempt in {Delay}")]
    public static partial void DialFailed(ILogger logger, Ident ident, string failure, string reason, int dropped, TimeSpan delay);

    [LoggerMessage(EventId = 405, Level = LogLevel.Debug, Message = "Closing the duplicate connection with {Peer}; keeping the one dialled by {Dialler}")]
    public static partial void Duplicate(ILogger logger, string peer, Ident dialler);

    [LoggerMessage(EventId = 406, Level = LogLevel.Debug, Message = "Closing the connection with {Peer}: idle for {Idle}")]
    public static partial void Idle(ILogger logger, string peer, TimeSpan idle);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "A packet for {Ident} is undeliverable: its frame of {Size} bytes is over the connection's maximum of {Max}")]
    public static partial void TooLargeForPeer(ILogger logger, Ident ident, int size, int max);

    [LoggerMessage(EventId = 408, Level = LogLevel.Error, Message = "The packet handler threw on {BodyType} from {Ident}; packet dropped")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string bodyType, Ident ident);

    [LoggerMessage(EventId = 409, Level = LogLevel.Error, Message = "The undeliverable-packet handler threw on {BodyType}")]
    public static partial void UndeliverableHandlerFailed(ILogger logger, Exception exception, string bodyType);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "Accepting connections failed; still listening")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 411, Level = LogLevel.Debug, Message = "Dialling {Ident} at {Address}")]
    public static partial void Dialling(ILogger logger, Ident ident, string address);

    [LoggerMessage(EventId = 412, Level = LogLevel.Information, Message = "The connection with {Peer} was lost with {Queued} packets queued; dialling again")]
    public static partial void Redialling(ILogger logger, string peer, int queued);

    [LoggerMessage(EventId = 413, Level = LogLevel.Error, Message = "The connection with {Peer} failed unexpectedly")]
    public static partial void Unexpected(ILogger logger, Exception exception, string peer);

    [LoggerMessage(EventId = 414, Level = LogLevel.Warning, Message = "Dropped a packet from {Peer}: its srcIdent {Claimed} is not the ident of the peer's certificate, and the certificate does not allow relaying{Suppressed}")]
    public static partial void SpoofedSource(ILogger logger, string peer, string claimed, string suppressed);
}
