using System.Buffers.Binary;
using System.Globalization;

namespace Kaze.Core.Tests.Infrastructure;

/// <summary>
/// Channel files as bytes, for tests that check or forge the format without going through
/// ShmChannel. Offsets here are literal numbers copied from docs/shm-format.md (and the diagram in
/// ChannelLayout.cs), deliberately not ChannelLayout's constants: an independent transcription.
/// </summary>
internal static class RawChannelFile
{
    /// <summary>The whole file as it is now (tmpfs reads see what the mappings wrote).</summary>
    public static byte[] Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static uint U32(string path, long offset) => BinaryPrimitives.ReadUInt32LittleEndian(ReadAt(path, offset, 4));

    public static ulong U64(string path, long offset) => BinaryPrimitives.ReadUInt64LittleEndian(ReadAt(path, offset, 8));

    public static byte[] ReadAt(string path, long offset, int length)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        byte[] bytes = new byte[length];
        int read = RandomAccess.Read(handle, bytes, offset);
        return read == length ? bytes : throw new EndOfStreamException($"{path}: {read} of {length} bytes at offset {offset}");
    }

    /// <summary>Writes into an existing file (another process's mapping sees it at once).</summary>
    public static void WriteAt(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        RandomAccess.Write(handle, bytes, offset);
    }

    public static void WriteU32At(string path, long offset, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        WriteAt(path, offset, bytes);
    }

    public static void WriteU64At(string path, long offset, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        WriteAt(path, offset, bytes);
    }

    /// <summary>Creates (or replaces) <paramref name="path"/> with <paramref name="content"/>, mode 0600.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(content);
    }

    /// <summary>The documented file size: 4096 + 2 * 512 + both capacities.</summary>
    public static long DocumentedFileSize(int capacity0, int capacity1) => 4096 + (2 * 512) + (long)capacity0 + capacity1;

    /// <summary>
    /// A complete, valid version-1 channel file (header plus zeroed rings) as a sidecar with
    /// <paramref name="sidecarPid"/> would have written it; tests corrupt it afterwards.
    /// </summary>
    public static byte[] ValidChannel(int capacity0, int capacity1, int sidecarPid, ulong sidecarStartTime = 0)
    {
        byte[] file = new byte[DocumentedFileSize(capacity0, capacity1)];
        "KAZECHAN"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), 4096);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(16), (ulong)file.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(24), (uint)capacity0);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(28), (uint)capacity1);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(32), 4096);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(40), 4096 + 512 + (ulong)capacity0);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(128), sidecarPid);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(132), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(136), sidecarStartTime);
        return file;
    }

    /// <summary>Field 22 of /proc/&lt;pid&gt;/stat (start time in clock ticks since boot), parsed here independently.</summary>
    public static ulong ProcessStartTime(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] afterComm = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // afterComm[0] is field 3 (state), so field 22 is afterComm[19].
        return ulong.Parse(afterComm[19], CultureInfo.InvariantCulture);
    }
}
