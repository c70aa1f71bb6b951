using System.Buffers;
using System.Runtime.InteropServices;

namespace Kaze.Mesh.Connections;

/// <summary>
/// A receive buffer for one large frame, mapped straight from the kernel (mmap(2)) and unmapped
/// when the frame is done (munmap(2)): the memory goes back to the operating system at once. A
/// pooled or garbage-collected array of 16 MiB would stay in the process (the pool keeps it, the
/// GC decommits when it likes), which is how 100 connections announcing large frames made a
/// sidecar keep 1.5 GB after they closed.
/// </summary>
internal sealed unsafe partial class MappedBuffer : MemoryManager<byte>
{
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    private byte* _pointer;

    private MappedBuffer(byte* pointer, int length)
    {
        _pointer = pointer;
        Length = length;
    }

    /// <summary>The buffer's size in bytes.</summary>
    public int Length { get; }

    /// <summary>Maps <paramref name="length"/> bytes; null if the kernel refused (out of memory).</summary>
    public static MappedBuffer? TryMap(int length)
    {
        nint address = Mmap(0, (nuint)length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        return address == -1 ? null : new MappedBuffer((byte*)address, length);
    }

    public override Span<byte> GetSpan() => new(_pointer, Length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin()
    {
    }

    /// <summary>Unmaps the memory; only once nothing refers to it any more (the frame receiver's single owner).</summary>
    protected override void Dispose(bool disposing)
    {
        byte* pointer = _pointer;
        _pointer = null;
        if (pointer is not null)
        {
            _ = Munmap((nint)pointer, (nuint)Length);
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
