using Kaze.Core;

namespace Kaze.Host.Transport;

/// <summary>
/// The host's end of a channel as the client needs it: write payload records one way, read them
/// the other. <see cref="ShmHostTransport"/> is the real one; the in-memory sidecar for tests has
/// its own, so the client's code path is the same under test.
/// </summary>
/// <remarks>
/// The producer half (claim, commit, abandon, wait for space) is used by one thread at a time:
/// <see cref="RecordSender"/> guarantees it. The consumer half (read, release, wait to read) is
/// used by the client's reader thread only. Statuses mean what they mean in Kaze.Core.
/// </remarks>
internal interface IHostTransport : IDisposable
{
    /// <summary>The channel's name, for logs.</summary>
    string Name { get; }

    /// <summary>The largest payload one record may have.</summary>
    int MaxRecordLength { get; }

    /// <summary>Claims space for a record of exactly <paramref name="length"/> bytes; never waits.</summary>
    ChannelStatus TryClaim(int length, out Span<byte> payload);

    /// <summary>Commits and publishes the pending claim.</summary>
    void Commit(int length);

    /// <summary>Drops the pending claim.</summary>
    void Abandon();

    /// <summary>Blocks until a record of <paramref name="length"/> bytes fits, up to <paramref name="timeout"/>.</summary>
    /// <returns>Ok, TimedOut, Closed or PeerGone.</returns>
    ChannelStatus WaitForSpace(int length, TimeSpan timeout);

    /// <summary>The next record, in place; valid until <see cref="Release"/>.</summary>
    ChannelStatus TryRead(out ReadOnlySpan<byte> record);

    /// <summary>Gives back the space of every record read so far.</summary>
    void Release();

    /// <summary>Blocks (spin, then sleep) until a record is there, up to <paramref name="timeout"/>.</summary>
    /// <returns>Ok, TimedOut, Closed or PeerGone.</returns>
    ChannelStatus WaitToRead(TimeSpan timeout);

    /// <summary>Marks this end closed and wakes every waiter; the reader still drains what was sent before.</summary>
    void Close();

    /// <summary>Why the channel was found corrupt (ring, field, value, what was allowed); null while it is sound.</summary>
    string? Corruption { get; }

    /// <summary>
    /// Closes without unmapping: for when a thread that may still touch the mapping did not stop
    /// in time. The mapping goes with the process.
    /// </summary>
    void Detach();
}
