namespace Kaze.Protocol;

/// <summary>Why bytes could not be decoded as a packet. Decoders return these; they never throw on bad input.</summary>
public enum DecodeError
{
    /// <summary>No error: the packet was decoded.</summary>
    None = 0,

    /// <summary>The data ends before the lengths it declares: fewer than 4 bytes, or a stream closed mid-frame.</summary>
    Truncated = 1,

    /// <summary>A TCP frame's total length is less than 4, the size of the header length field it must contain.</summary>
    FrameLengthTooSmall = 2,

    /// <summary>A TCP frame's total length is over the reader's maximum frame size.</summary>
    FrameTooLarge = 3,

    /// <summary>The header length is larger than the bytes that follow it in the frame or payload.</summary>
    HeaderLengthOutOfRange = 4,

    /// <summary>The header bytes are not a valid protobuf <c>kaze.Hdr</c>.</summary>
    InvalidHeader = 5,
}

/// <summary>Human-readable text for <see cref="DecodeError"/>.</summary>
public static class DecodeErrorExtensions
{
    /// <summary>A one-line message for logs and error replies.</summary>
    /// <param name="error">The error.</param>
    /// <returns>A sentence without a trailing period, e.g. "the header is not a valid protobuf kaze.Hdr".</returns>
    public static string ToMessage(this DecodeError error) => error switch
    {
        DecodeError.None => "no error",
        DecodeError.Truncated => "the data ends before the lengths it declares: the packet is truncated",
        DecodeError.FrameLengthTooSmall => "the frame's total length is less than 4, the size of its header length field",
        DecodeError.FrameTooLarge => "the frame's total length is over the maximum frame size",
        DecodeError.HeaderLengthOutOfRange => "the header length is larger than the rest of the frame",
        DecodeError.InvalidHeader => "the header is not a valid protobuf kaze.Hdr",
        _ => $"unknown decode error {(int)error}",
    };
}
