using System.Diagnostics.CodeAnalysis;

namespace Kaze.Protocol;

/// <summary>What <see cref="TcpFraming.ReadFrame"/> found at the start of the buffer.</summary>
public enum TcpFrameStatus
{
    /// <summary>The first frame has not fully arrived; read more and call again with everything received.</summary>
    NeedMoreData = 0,

    /// <summary>A whole frame was decoded.</summary>
    Complete = 1,

    /// <summary>The bytes are not a valid frame; the stream cannot be resynchronised and should be closed.</summary>
    Invalid = 2,
}

/// <summary>The outcome of <see cref="TcpFraming.ReadFrame"/>.</summary>
public readonly struct TcpFrameReadResult
{
    private TcpFrameReadResult(TcpFrameStatus status, Packet? packet, SequencePosition consumed, DecodeError error)
    {
        Status = status;
        Packet = packet;
        Consumed = consumed;
        Error = error;
    }

    /// <summary>Complete, NeedMoreData or Invalid.</summary>
    public TcpFrameStatus Status { get; }

    /// <summary>The decoded packet when <see cref="Status"/> is Complete, otherwise null. The caller owns and disposes it.</summary>
    public Packet? Packet { get; }

    /// <summary>When Complete, the position just after the frame: slice the buffer there, or pass it to AdvanceTo.</summary>
    public SequencePosition Consumed { get; }

    /// <summary>When Invalid, why; otherwise <see cref="DecodeError.None"/>.</summary>
    public DecodeError Error { get; }

    /// <summary>Whether a frame was decoded; when true, <see cref="Packet"/> is not null.</summary>
    [MemberNotNullWhen(true, nameof(Packet))]
    public bool IsComplete => Status == TcpFrameStatus.Complete;

    internal static TcpFrameReadResult NeedMoreData => default;

    internal static TcpFrameReadResult Complete(Packet packet, SequencePosition consumed) =>
        new(TcpFrameStatus.Complete, packet, consumed, DecodeError.None);

    internal static TcpFrameReadResult Invalid(DecodeError error) =>
        new(TcpFrameStatus.Invalid, null, default, error);
}
