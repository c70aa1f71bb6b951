using System.Buffers.Binary;
using static Kaze.Core.ChannelLayout;

namespace Kaze.Core;

/// <summary>What a channel file says, read without attaching to it (for <c>kaze status</c>).</summary>
public sealed record ChannelInfo
{
    /// <summary>The channel's name.</summary>
    public required string Name { get; init; }

    /// <summary>The file.</summary>
    public required string FilePath { get; init; }

    /// <summary>The creating sidecar's pid.</summary>
    public int SidecarPid { get; init; }

    /// <summary>Whether that process is alive (pid and start time match).</summary>
    public bool SidecarAlive { get; init; }

    /// <summary>The attached host's pid, 0 if none has attached.</summary>
    public int HostPid { get; init; }

    /// <summary>Whether the host process is alive.</summary>
    public bool HostAlive { get; init; }

    /// <summary>Whether either side has closed.</summary>
    public bool Closed { get; init; }

    /// <summary>Capacity of the sidecar → host ring.</summary>
    public int SidecarToHostCapacity { get; init; }

    /// <summary>Bytes waiting in the sidecar → host ring.</summary>
    public long SidecarToHostUsed { get; init; }

    /// <summary>Capacity of the host → sidecar ring.</summary>
    public int HostToSidecarCapacity { get; init; }

    /// <summary>Bytes waiting in the host → sidecar ring.</summary>
    public long HostToSidecarUsed { get; init; }

    /// <summary>
    /// Reads a channel file. Throws <see cref="ChannelFormatException"/> for a file that is not a
    /// channel, and <see cref="UnauthorizedAccessException"/> for a file another user owns.
    /// </summary>
    public static ChannelInfo Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (!FileOwner.IsOwnedByCurrentUser(stream.SafeFileHandle))
        {
            // Another user's file says nothing about this user's channels, whatever its header claims.
            throw new UnauthorizedAccessException($"{path} belongs to another user");
        }

        long length = stream.Length;
        byte[] header = new byte[HeaderSize];
        if (length < HeaderSize)
        {
            throw new ChannelFormatException(path, "file size", $"at least {HeaderSize + 2 * (RingControlSize + MinCapacity)} bytes", $"{length} bytes");
        }

        stream.ReadExactly(header);
        ShmChannel.ValidateHeader(path, header, length);
        int cap0 = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(Capacity0Offset));
        int cap1 = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(Capacity1Offset));
        int sidecarPid = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(SidecarPidOffset));
        ulong sidecarStart = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(SidecarStartTimeOffset));
        int hostPid = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(HostPidOffset));
        ulong hostStart = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(HostStartTimeOffset));
        int sidecarState = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(SidecarStateOffset));
        int hostState = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(HostStateOffset));

        string fileName = System.IO.Path.GetFileName(path);
        return new ChannelInfo
        {
            Name = fileName.StartsWith(ShmChannel.FilePrefix, StringComparison.Ordinal) ? fileName[ShmChannel.FilePrefix.Length..] : fileName,
            FilePath = path,
            SidecarPid = sidecarPid,
            SidecarAlive = ProcessIdentity.IsAlive(sidecarPid, sidecarStart),
            HostPid = hostPid,
            HostAlive = hostPid != 0 && ProcessIdentity.IsAlive(hostPid, hostStart),
            Closed = sidecarState == StateClosed || hostState == StateClosed,
            SidecarToHostCapacity = cap0,
            SidecarToHostUsed = ReadUsed(stream, Ring0Offset),
            HostToSidecarCapacity = cap1,
            HostToSidecarUsed = ReadUsed(stream, Ring1Offset(cap0)),
        };
    }

    /// <summary>Every channel file of this user under /dev/shm that can be read; files that are not channels, or are another user's, are skipped.</summary>
    public static IReadOnlyList<ChannelInfo> List()
    {
        var result = new List<ChannelInfo>();
        foreach (string path in System.IO.Directory.EnumerateFiles(ShmChannel.Directory, ShmChannel.FilePrefix + "*"))
        {
            try
            {
                result.Add(Read(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ChannelFormatException)
            {
                // Not a channel, or gone meanwhile.
            }
        }

        return result;
    }

    /// <summary>
    /// Deletes channel files whose sidecar is dead (left by a sidecar that was SIGKILLed), and
    /// temporary files of creators that died mid-create. Files that are not channels are left alone.
    /// </summary>
    /// <returns>The paths deleted.</returns>
    public static IReadOnlyList<string> RemoveStale()
    {
        var removed = new List<string>();
        foreach (string path in System.IO.Directory.EnumerateFiles(ShmChannel.Directory, ShmChannel.FilePrefix + "*"))
        {
            try
            {
                ChannelInfo info = Read(path);
                if (!info.SidecarAlive && Native.LibC.Unlink(path) == 0)
                {
                    removed.Add(path);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ChannelFormatException)
            {
                // Not a channel this version understands, or gone meanwhile: not ours to delete.
            }
        }

        // ".kaze-NAME.PID.tmp": a creator that died between creating and publishing its file.
        foreach (string path in System.IO.Directory.EnumerateFiles(ShmChannel.Directory, "." + ShmChannel.FilePrefix + "*.tmp"))
        {
            string[] parts = System.IO.Path.GetFileName(path).Split('.');
            if (parts.Length >= 3 && int.TryParse(parts[^2], out int pid) && !ProcessIdentity.IsAlive(pid, 0) && FileOwner.IsOwnedByCurrentUser(path) && Native.LibC.Unlink(path) == 0)
            {
                removed.Add(path);
            }
        }

        return removed;
    }

    private static long ReadUsed(FileStream stream, long ring)
    {
        Span<byte> word = stackalloc byte[8];
        stream.Position = ring + TailOffset;
        stream.ReadExactly(word);
        long tail = BinaryPrimitives.ReadInt64LittleEndian(word);
        stream.Position = ring + HeadOffset;
        stream.ReadExactly(word);
        long head = BinaryPrimitives.ReadInt64LittleEndian(word);
        return tail - head;
    }
}
