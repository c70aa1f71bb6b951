namespace Kaze.Sidecar.Logging;

/// <summary>What log forwarding did with the host's <c>log</c> notifies since start; read racily for metrics.</summary>
public sealed class LogForwardingCounters
{
    internal long RecordsWritten;
    internal long RecordsMalformed;

    /// <summary>Records handed to the sidecar's loggers (which may filter them out by level).</summary>
    public long Written => Volatile.Read(ref RecordsWritten);

    /// <summary>Bodies that were not a log record; dropped.</summary>
    public long Malformed => Volatile.Read(ref RecordsMalformed);
}
