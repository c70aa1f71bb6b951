namespace Kaze.Core;

/// <summary>The outcome of a ring operation. Expected outcomes are values, not exceptions.</summary>
public enum ChannelStatus
{
    /// <summary>The operation succeeded.</summary>
    Ok = 0,

    /// <summary>A read found no record; try again or wait.</summary>
    Empty,

    /// <summary>A claim found too little free space; try again or wait.</summary>
    Full,

    /// <summary>The record is larger than this ring can ever hold (see <c>MaxRecordLength</c>).</summary>
    TooLarge,

    /// <summary>
    /// This side or the peer closed the channel. A reader sees this only after it has read
    /// every record written before the close.
    /// </summary>
    Closed,

    /// <summary>The peer process died without closing (e.g. SIGKILL); noticed within 200 ms by a waiting side.</summary>
    PeerGone,

    /// <summary>A blocking wait reached its timeout.</summary>
    TimedOut,

    /// <summary>A wait was cancelled through its <see cref="CancellationToken"/>.</summary>
    Cancelled,

    /// <summary>
    /// The ring holds a record whose length is impossible, or positions that contradict each
    /// other: the other side (or something else) wrote garbage into the file.
    /// </summary>
    Corrupt,
}
