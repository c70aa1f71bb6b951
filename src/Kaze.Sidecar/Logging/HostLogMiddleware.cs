using System.Collections.Concurrent;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Logging;

/// <summary>
/// Takes the host's <c>log</c> notifies out of the pipeline and writes each record through the
/// sidecar's loggers, at the record's level, in category "Host.&lt;the host's category&gt;" with the
/// host's ident as property <c>HostIdent</c>. They are never routed.
/// </summary>
/// <remarks>
/// Only notifies that entered from the local host are records: a <c>log</c> packet from the network
/// is routed like any other packet (a peer cannot write into this node's logs), and a <c>log</c>
/// request or response is application traffic. The destination of a record is not looked at: the
/// host addresses it to its own ident (or 0.0.0.0), and it stops here either way.
/// </remarks>
internal sealed class HostLogMiddleware : IPacketMiddleware
{
    // Categories are the host's to choose; past this many distinct ones, the rest share "Host".
    private const int MaxCategoryLoggers = 1024;

    private readonly ILoggerFactory _loggers;
    private readonly ILogger _hostLogger;
    private readonly ILogger _logger;
    private readonly string _hostIdent;
    private readonly LogForwardingCounters _counters;
    private readonly ConcurrentDictionary<string, ILogger> _byCategory = new(StringComparer.Ordinal);
    // 0 until the first malformed record, which is a warning; the later ones are debug.
    private int _malformedSeen;

    public HostLogMiddleware(ILoggerFactory loggers, Ident hostIdent, LogForwardingCounters counters)
    {
        _loggers = loggers;
        _hostLogger = loggers.CreateLogger(LogForwardingPlugin.HostCategory);
        _logger = loggers.CreateLogger("Kaze.Sidecar.Logging");
        _hostIdent = hostIdent.ToString();
        _counters = counters;
    }

    public ValueTask InvokeAsync(PacketContext context, PacketDelegate next)
    {
        if (!IsHostLogRecord(context))
        {
            return next(context);
        }

        Write(context.Packet.BodySpan);
        return ValueTask.CompletedTask;
    }

    internal static bool IsHostLogRecord(PacketContext context)
    {
        Hdr header = context.Header;
        return context.Origin == PacketOrigin.Host
            && header.BodyType == ControlBodyTypes.Log
            && header.RpcTypeCase != Hdr.RpcTypeOneofCase.Rsp
            && !header.ExpectsResponse;
    }

    /// <summary>Decodes one record and logs it; a body that is not a record is counted and reported.</summary>
    internal void Write(ReadOnlySpan<byte> body)
    {
        if (!HostLogRecord.TryParse(body, out HostLogRecord? record, out string error))
        {
            Interlocked.Increment(ref _counters.RecordsMalformed);
            if (Interlocked.Exchange(ref _malformedSeen, 1) == 0)
            {
                LogForwardingLog.FirstMalformed(_logger, error);
            }
            else
            {
                LogForwardingLog.Malformed(_logger, error);
            }

            return;
        }

        Interlocked.Increment(ref _counters.RecordsWritten);
        ILogger logger = LoggerFor(record!.Category);
        if (!logger.IsEnabled(record.Level))
        {
            return;
        }

        logger.Log(
            record.Level,
            new EventId(record.EventId, record.EventName),
            new HostLogState(_hostIdent, record),
            record.Exception is null ? null : new HostException(record.Exception),
            HostLogState.Format);
    }

    private ILogger LoggerFor(string category)
    {
        if (category.Length == 0)
        {
            return _hostLogger;
        }

        if (_byCategory.TryGetValue(category, out ILogger? logger))
        {
            return logger;
        }

        if (_byCategory.Count >= MaxCategoryLoggers)
        {
            return _hostLogger;
        }

        return _byCategory.GetOrAdd(category, static (name, loggers) => loggers.CreateLogger(LogForwardingPlugin.HostCategory + "." + name), _loggers);
    }
}
