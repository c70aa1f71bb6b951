using Microsoft.Extensions.Logging;

namespace Kaze.Http;

internal static partial class HttpLog
{
    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "HTTP into the mesh at http://{Address}/<ident>/<path> (KAZE_HTTP_PORT={Port})")]
    public static partial void Listening(ILogger logger, string address, int port);

    [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "HTTP from the mesh goes to the app at {Prefix}")]
    public static partial void ForwardingTo(ILogger logger, string prefix);

    [LoggerMessage(EventId = 802, Level = LogLevel.Debug, Message = "Refused an HTTP exchange from {Caller}: {Reason}")]
    public static partial void Refused(ILogger logger, string caller, string reason);

    [LoggerMessage(EventId = 803, Level = LogLevel.Debug, Message = "HTTP exchange {Sid} with {Node} aborted: {Reason}")]
    public static partial void Aborted(ILogger logger, uint sid, string node, string reason);

    [LoggerMessage(EventId = 804, Level = LogLevel.Warning, Message = "{Node} broke the HTTP exchange rules ({Reason}); exchange {Sid} was reset")]
    public static partial void ProtocolViolation(ILogger logger, string node, string reason, uint sid);

    [LoggerMessage(EventId = 805, Level = LogLevel.Debug, Message = "Forwarding to the app failed ({Error}): {Message}")]
    public static partial void AppFailed(ILogger logger, string error, string message);

    [LoggerMessage(EventId = 806, Level = LogLevel.Error, Message = "HTTP exchange failed unexpectedly")]
    public static partial void Unexpected(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 807, Level = LogLevel.Debug, Message = "Dropped a {BodyType} packet from {Node} for no exchange of ours")]
    public static partial void NoExchange(ILogger logger, string bodyType, string node);
}
