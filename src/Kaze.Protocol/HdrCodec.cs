using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;

namespace Kaze.Protocol;

/// <summary>
/// Parses <see cref="Hdr"/> from untrusted bytes without letting an exception escape.
/// </summary>
internal static class HdrCodec
{
    // Google.Protobuf reports every malformed input with InvalidProtocolBufferException, invalid UTF-8
    // in a string field included (from 3.30 on, as proto3 requires). The fuzz tests feed both
    // decoders mutated frames to keep the hand-written fast path in step.
    public static bool TryParse(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out Hdr? header)
    {
        var parsed = new Hdr();
        if (TryParseInto(bytes, parsed))
        {
            header = parsed;
            return true;
        }

        header = null;
        return false;
    }

    /// <summary>Clears <paramref name="header"/> and parses into it; false (and a partly filled header) on bad bytes.</summary>
    public static bool TryParseInto(ReadOnlySpan<byte> bytes, Hdr header)
    {
        header.Clear();
        if (header.TryMergePlain(bytes))
        {
            return true;
        }

        // Not a plain header (see HdrFastPath.cs): Google.Protobuf parses it, or refuses it, from the start.
        header.Clear();
        try
        {
            header.MergeFrom(bytes);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    public static bool TryParse(in ReadOnlySequence<byte> bytes, [NotNullWhen(true)] out Hdr? header)
    {
        if (bytes.IsSingleSegment)
        {
            return TryParse(bytes.FirstSpan, out header);
        }

        try
        {
            header = Hdr.Parser.ParseFrom(bytes);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
        }

        header = null;
        return false;
    }
}
