namespace Kaze.Core;

/// <summary>
/// The byte layout of a channel file, layout version 1. docs/shm-format.md is the
/// specification; this file is its only transcription into code.
/// </summary>
/// <remarks>
/// <code>
/// Channel file (all integers little-endian, file size = 4096 + 2 * (512 + capacity))
///
///  0        8       12      16              24      28      32              40              48      128
///  +--------+-------+-------+---------------+-------+-------+---------------+---------------+-------+
///  | magic  |version|hdrSize| file size     | cap0  | cap1  | ring0 offset  | ring1 offset  | zero  |   immutable, creator
///  +--------+-------+-------+---------------+-------+-------+---------------+---------------+-------+
///  128: | sidecar pid | sidecar state | sidecar start time (u64) |  ... zero to 256        written by the sidecar
///  256: | host pid    | host state    | host start time (u64)    |  ... zero to 4096       written by the host
///
///  4096: ring 0, sidecar -> host          then ring 1, host -> sidecar, same shape:
///  +0    u64 tail   bytes ever written    (producer)              own 128-byte block
///  +128  u64 head   bytes ever consumed   (consumer)              own 128-byte block
///  +256  u32 data futex:  1 = consumer sleeps or is about to      own 128-byte block
///  +384  u32 space futex: 1 = producer sleeps or is about to      own 128-byte block
///  +512  data[capacity]   records [u32 length][payload], each padded to 8 bytes
/// </code>
/// Words that one side writes often never share a 128-byte block with words the other side
/// writes (128, not 64, because adjacent-line prefetch pulls lines in pairs).
/// </remarks>
internal static class ChannelLayout
{
    /// <summary>"KAZECHAN" in file order.</summary>
    public const ulong Magic = 0x4E41_4843_455A_414BUL;
    public const uint Version = 1;

    // Channel header: immutable part, written once by the creator before the file is visible.
    public const int MagicOffset = 0;
    public const int VersionOffset = 8;
    public const int HeaderSizeOffset = 12;
    public const int FileSizeOffset = 16;
    public const int Capacity0Offset = 24;
    public const int Capacity1Offset = 28;
    public const int Ring0OffsetOffset = 32;
    public const int Ring1OffsetOffset = 40;

    // Sidecar-owned block.
    public const int SidecarPidOffset = 128;
    public const int SidecarStateOffset = 132;
    public const int SidecarStartTimeOffset = 136;

    // Host-owned block.
    public const int HostPidOffset = 256;
    public const int HostStateOffset = 260;
    public const int HostStartTimeOffset = 264;

    /// <summary>Bytes before the first ring; one page so rings start page-aligned.</summary>
    public const int HeaderSize = 4096;

    // Ring control block, relative to the ring's offset.
    public const int TailOffset = 0;
    public const int HeadOffset = 128;
    public const int DataFutexOffset = 256;
    public const int SpaceFutexOffset = 384;
    public const int RingControlSize = 512;

    // Records.
    public const int RecordHeaderSize = 4;
    public const int RecordAlignment = 8;
    /// <summary>Length word of a padding record: the rest of the ring up to its end is skipped.</summary>
    public const uint PaddingLength = 0xFFFF_FFFF;

    public const int MinCapacity = 64;
    public const int MaxCapacity = 1 << 30;

    // Side states (sidecar state and host state words).
    public const int StateNone = 0;
    public const int StateOpen = 1;
    public const int StateClosed = 2;

    /// <summary>Ring 0 carries sidecar → host, ring 1 host → sidecar.</summary>
    public const int SidecarToHostRing = 0;
    public const int HostToSidecarRing = 1;

    public static long Ring0Offset => HeaderSize;

    public static long Ring1Offset(int capacity0) => HeaderSize + RingControlSize + (long)capacity0;

    public static long FileSize(int capacity0, int capacity1) =>
        HeaderSize + 2L * RingControlSize + capacity0 + (long)capacity1;

    /// <summary>The largest payload one record may carry in a ring of this capacity.</summary>
    /// <remarks>
    /// A record never straddles the ring's end: when it does not fit before the end, a padding
    /// record fills the rest and the record starts at offset 0. The skipped bytes count as used,
    /// so a record of aligned size R may need up to (R - 8) + R bytes free; R ≤ capacity / 2
    /// guarantees it fits in an empty ring wherever the positions stand.
    /// </remarks>
    public static int MaxRecordLength(int capacity) => capacity / 2 - RecordHeaderSize;

    /// <summary>Aligned size of a record with this payload length.</summary>
    public static long RecordSize(int payloadLength) =>
        (RecordHeaderSize + (long)payloadLength + (RecordAlignment - 1)) & ~(long)(RecordAlignment - 1);

    public static bool IsValidCapacity(long capacity) =>
        capacity >= MinCapacity && capacity <= MaxCapacity && (capacity & (capacity - 1)) == 0;
}
