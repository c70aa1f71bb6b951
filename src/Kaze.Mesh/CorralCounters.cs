namespace Kaze.Mesh;

/// <summary>What the corral has done since it started; read racily for metrics.</summary>
public sealed class CorralCounters
{
    internal long Open;
    internal long Attempts;
    internal long Accepted;
    internal long Established;
    internal long Idle;
    internal long InFrames;
    internal long InBytes;
    internal long OutFrames;
    internal long OutBytes;
    internal long Sends;
    internal long Undelivered;
    internal long Full;
    internal long Spoofed;
    internal long InHandshake;

    // Indexed by ConnectionFailure.
    private readonly long[] _failures = new long[ConnectionFailureExtensions.All.Count];

    /// <summary>Connections that completed the handshake and are not closed yet (a gauge).</summary>
    public long ConnectionsOpen => Volatile.Read(ref Open);

    /// <summary>Inbound connections accepted and still in their handshake (a gauge; see <see cref="CorralOptions.MaxHandshaking"/>).</summary>
    public long ConnectionsHandshaking => Volatile.Read(ref InHandshake);

    /// <summary>Connection attempts this sidecar started (dials).</summary>
    public long ConnectionAttempts => Volatile.Read(ref Attempts);

    /// <summary>Connections accepted from other sidecars (before the handshake).</summary>
    public long ConnectionsAccepted => Volatile.Read(ref Accepted);

    /// <summary>Connections, in either direction, that completed the handshake.</summary>
    public long ConnectionsEstablished => Volatile.Read(ref Established);

    /// <summary>Connections closed quietly after the idle timeout (not failures).</summary>
    public long IdleClosed => Volatile.Read(ref Idle);

    /// <summary>Frames received, handshake frames included.</summary>
    public long FramesIn => Volatile.Read(ref InFrames);

    /// <summary>Bytes of frames received.</summary>
    public long BytesIn => Volatile.Read(ref InBytes);

    /// <summary>Frames written, handshake frames included.</summary>
    public long FramesOut => Volatile.Read(ref OutFrames);

    /// <summary>Bytes of frames written.</summary>
    public long BytesOut => Volatile.Read(ref OutBytes);

    /// <summary>Socket send calls; <see cref="FramesOut"/> / SendCalls is the number of frames per system call.</summary>
    public long SendCalls => Volatile.Read(ref Sends);

    /// <summary>Packets handed to the undeliverable callback.</summary>
    public long Undeliverable => Volatile.Read(ref Undelivered);

    /// <summary>Sends refused with <see cref="SendResult.QueueFull"/>.</summary>
    public long QueueFull => Volatile.Read(ref Full);

    /// <summary>Packets dropped because their srcIdent was not the ident of the peer's certificate (TLS), and the peer may not relay.</summary>
    public long SpoofedSourceDropped => Volatile.Read(ref Spoofed);

    /// <summary>Failed attempts and closed connections for <paramref name="reason"/>.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count since start.</returns>
    public long this[ConnectionFailure reason] => Volatile.Read(ref _failures[(int)reason]);

    internal void Fail(ConnectionFailure reason) => Interlocked.Increment(ref _failures[(int)reason]);
}
