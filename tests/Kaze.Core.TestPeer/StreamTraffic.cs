using System.Buffers.Binary;
using System.Numerics;

namespace Kaze.Core.TestPeer;

/// <summary>
/// The traffic of the cross-process stream test, shared by the test process and the peer (the
/// test project compiles this file too). Record n of a stream is
/// <c>[u64 n][u32 crc32c(payload)][payload]</c>; its length and its payload bytes are both
/// derived from (stream seed, n), so a reader checks each record without being told anything:
/// sequence (nothing lost, duplicated or reordered), length, checksum, and every payload byte.
/// After record count − 1 the writer sends one 8-byte end marker, so an extra record at the end
/// is caught too.
/// </summary>
internal static class StreamTraffic
{
    public const int HeaderLength = 12;
    public const int EndMarkerLength = 8;
    public const ulong EndMarker = ulong.MaxValue;

    /// <summary>Every this many records, one is within 16 bytes of the ring's largest record.</summary>
    public const int NearMaxEvery = 9973;

    /// <summary>The largest ordinary payload; rings in these tests hold at least 2 * (12 + 2048 + 4).</summary>
    public const int MaxOrdinaryPayload = 2048;

    /// <summary>The seed of the stream one side writes: the two directions carry different bytes.</summary>
    public static ulong SeedFor(ulong seed, ChannelSide writer) => Mix(seed + (writer == ChannelSide.Sidecar ? 0x5CA1AB1EUL : 0x0DDBA11UL));

    /// <summary>Length of record <paramref name="seq"/>: mostly 12..2060 bytes (payload 0..2048, 1 in 16 empty), a few near the maximum.</summary>
    public static int RecordLength(ulong seed, long seq, int maxRecordLength)
    {
        ulong h = Mix(seed ^ ((ulong)seq * 0x9E37_79B9_7F4A_7C15UL));
        if (seq % NearMaxEvery == 17)
        {
            return maxRecordLength - (int)(h % 16);
        }

        if ((h & 15) == 0)
        {
            return HeaderLength;
        }

        return HeaderLength + (int)((h >> 8) % (MaxOrdinaryPayload + 1));
    }

    /// <summary>Writes record <paramref name="seq"/> into <paramref name="record"/> (its whole length).</summary>
    public static void Fill(Span<byte> record, ulong seed, long seq)
    {
        BinaryPrimitives.WriteInt64LittleEndian(record, seq);
        Span<byte> payload = record[HeaderLength..];
        FillPayload(payload, seed, seq);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32C(payload));
    }

    /// <summary>Checks record <paramref name="seq"/>; null when it is right, else what is wrong.</summary>
    /// <param name="scratch">At least the ring's maximum record length, to regenerate the payload in.</param>
    public static string? Check(ReadOnlySpan<byte> record, ulong seed, long seq, int maxRecordLength, byte[] scratch)
    {
        if (record.Length < HeaderLength)
        {
            return $"record {seq}: {record.Length} bytes, shorter than the {HeaderLength}-byte header";
        }

        long actualSeq = BinaryPrimitives.ReadInt64LittleEndian(record);
        if (actualSeq != seq)
        {
            return $"record {seq}: carries sequence number {actualSeq} ({(actualSeq < seq ? "duplicate or reordered" : "records lost")})";
        }

        int expectedLength = RecordLength(seed, seq, maxRecordLength);
        if (record.Length != expectedLength)
        {
            return $"record {seq}: {record.Length} bytes, expected {expectedLength}";
        }

        ReadOnlySpan<byte> payload = record[HeaderLength..];
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(record[8..]);
        uint actualCrc = Crc32C(payload);
        if (crc != actualCrc)
        {
            return $"record {seq}: payload checksum 0x{actualCrc:X8}, the record says 0x{crc:X8} (corrupt payload)";
        }

        Span<byte> expected = scratch.AsSpan(0, payload.Length);
        FillPayload(expected, seed, seq);
        if (!payload.SequenceEqual(expected))
        {
            int at = payload.CommonPrefixLength(expected);
            return $"record {seq}: payload byte {at} is 0x{payload[at]:X2}, expected 0x{expected[at]:X2}";
        }

        return null;
    }

    /// <summary>Checks the end marker that follows the last record.</summary>
    public static string? CheckEnd(ReadOnlySpan<byte> record, long count)
    {
        if (record.Length != EndMarkerLength || BinaryPrimitives.ReadUInt64LittleEndian(record) != EndMarker)
        {
            string seq = record.Length >= 8 ? BinaryPrimitives.ReadInt64LittleEndian(record).ToString() : "none";
            return $"after record {count - 1}: expected the 8-byte end marker, got a {record.Length}-byte record (sequence {seq}): an extra record";
        }

        return null;
    }

    /// <summary>Writes records 0..count-1 and the end marker with blocking claims; null on success.</summary>
    public static string? WriteBlocking(RingWriter writer, ulong seed, long count, TimeSpan waitTimeout)
    {
        for (long seq = 0; seq <= count; seq++)
        {
            int length = seq == count ? EndMarkerLength : RecordLength(seed, seq, writer.MaxRecordLength);
            ChannelStatus status = writer.Claim(length, out Span<byte> record, waitTimeout);
            if (status != ChannelStatus.Ok)
            {
                return $"writer: blocking Claim of record {seq} of {count} ({length} bytes) returned {status} (waited up to {waitTimeout.TotalSeconds:0} s for space)";
            }

            WriteRecord(writer, record, seed, seq, count, length);
        }

        return null;
    }

    /// <summary>Writes records 0..count-1 and the end marker, awaiting space with WaitToWriteAsync; null on success.</summary>
    public static async Task<string?> WriteAwaiting(RingWriter writer, ulong seed, long count, TimeSpan waitTimeout)
    {
        for (long seq = 0; seq <= count; seq++)
        {
            int length = seq == count ? EndMarkerLength : RecordLength(seed, seq, writer.MaxRecordLength);
            while (true)
            {
                ChannelStatus status = TryWriteRecord(writer, seed, seq, count, length);
                if (status == ChannelStatus.Ok)
                {
                    break;
                }

                if (status != ChannelStatus.Full)
                {
                    return $"writer: TryClaim of record {seq} of {count} ({length} bytes) returned {status}";
                }

                using var timeout = new CancellationTokenSource(waitTimeout);
                status = await writer.WaitToWriteAsync(length, timeout.Token).ConfigureAwait(false);
                if (status != ChannelStatus.Ok)
                {
                    string what = status == ChannelStatus.Cancelled ? $"timed out after {waitTimeout.TotalSeconds:0} s" : $"returned {status}";
                    return $"writer: WaitToWriteAsync for record {seq} of {count} ({length} bytes) {what}";
                }
            }
        }

        return null;
    }

    /// <summary>Reads and checks records 0..count-1 and the end marker with blocking reads; null on success.</summary>
    public static string? ReadBlocking(RingReader reader, ulong seed, long count, TimeSpan waitTimeout)
    {
        byte[] scratch = new byte[reader.MaxRecordLength];
        for (long seq = 0; seq <= count; seq++)
        {
            ChannelStatus status = reader.Read(out ReadOnlySpan<byte> record, waitTimeout);
            if (status != ChannelStatus.Ok)
            {
                return $"reader: blocking Read of record {seq} of {count} returned {status} (waited up to {waitTimeout.TotalSeconds:0} s for a record)";
            }

            string? error = seq == count ? CheckEnd(record, count) : Check(record, seed, seq, reader.MaxRecordLength, scratch);
            if (error is not null)
            {
                return "reader: " + error;
            }

            // Release in batches of three: the ring must keep read-but-unreleased records intact.
            if (seq % 3 == 2)
            {
                reader.Release();
            }
        }

        reader.Release();
        return null;
    }

    /// <summary>Reads and checks records 0..count-1 and the end marker, awaiting records with WaitToReadAsync; null on success.</summary>
    public static async Task<string?> ReadAwaiting(RingReader reader, ulong seed, long count, TimeSpan waitTimeout)
    {
        byte[] scratch = new byte[reader.MaxRecordLength];
        for (long seq = 0; seq <= count; seq++)
        {
            while (true)
            {
                (ChannelStatus status, string? error) = TryReadRecord(reader, seed, seq, count, scratch);
                if (error is not null)
                {
                    return "reader: " + error;
                }

                if (status == ChannelStatus.Ok)
                {
                    break;
                }

                if (status != ChannelStatus.Empty)
                {
                    return $"reader: TryRead of record {seq} of {count} returned {status}";
                }

                using var timeout = new CancellationTokenSource(waitTimeout);
                status = await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
                if (status != ChannelStatus.Ok)
                {
                    string what = status == ChannelStatus.Cancelled ? $"timed out after {waitTimeout.TotalSeconds:0} s" : $"returned {status}";
                    return $"reader: WaitToReadAsync for record {seq} of {count} {what}";
                }
            }
        }

        reader.Release();
        return null;
    }

    private static ChannelStatus TryWriteRecord(RingWriter writer, ulong seed, long seq, long count, int length)
    {
        ChannelStatus status = writer.TryClaim(length, out Span<byte> record);
        if (status == ChannelStatus.Ok)
        {
            WriteRecord(writer, record, seed, seq, count, length);
        }

        return status;
    }

    private static void WriteRecord(RingWriter writer, Span<byte> record, ulong seed, long seq, long count, int length)
    {
        if (seq == count)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(record, EndMarker);
        }
        else
        {
            Fill(record, seed, seq);
        }

        // Publish in batches of four (and the end marker at once): a blocked Claim publishes the rest.
        writer.Commit(length, publish: seq % 4 == 3 || seq == count);
    }

    private static (ChannelStatus, string?) TryReadRecord(RingReader reader, ulong seed, long seq, long count, byte[] scratch)
    {
        ChannelStatus status = reader.TryRead(out ReadOnlySpan<byte> record);
        if (status != ChannelStatus.Ok)
        {
            return (status, null);
        }

        string? error = seq == count ? CheckEnd(record, count) : Check(record, seed, seq, reader.MaxRecordLength, scratch);
        // Release every other record: some waits start with a record read but not yet released.
        if (seq % 2 == 1)
        {
            reader.Release();
        }

        return (status, error);
    }

    private static void FillPayload(Span<byte> payload, ulong seed, long seq)
    {
        ulong state = seed ^ ((ulong)seq * 0xD1B5_4A32_D192_ED03UL);
        int i = 0;
        for (; i + 8 <= payload.Length; i += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(payload[i..], Mix(state += 0x9E37_79B9_7F4A_7C15UL));
        }

        if (i < payload.Length)
        {
            ulong last = Mix(state + 0x9E37_79B9_7F4A_7C15UL);
            for (; i < payload.Length; i++, last >>= 8)
            {
                payload[i] = (byte)last;
            }
        }
    }

    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        }

        for (; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, data[i]);
        }

        return ~crc;
    }

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
