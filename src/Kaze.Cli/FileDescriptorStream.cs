using System.Runtime.InteropServices;
using System.Text;

namespace Kaze.Cli;

/// <summary>
/// A write-only stream over an inherited file descriptor (1 or 2), written with write(2).
/// </summary>
/// <remarks>
/// Not System.Console: on a terminal its first use switches the terminal to application keypad
/// mode (ESC[?1h ESC=), which the host program then inherits. Not a FileStream over the
/// descriptor either: when it is a file, FileStream writes at offsets it tracks itself (pwrite),
/// overwriting what the host writes through the same descriptor. write(2) appends at the shared
/// offset, as every other writer of the descriptor does.
/// </remarks>
internal sealed unsafe partial class FileDescriptorStream(int fd) : Stream
{
    private const int EINTR = 4;

    private readonly Lock _gate = new();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>A synchronized UTF-8 writer over <paramref name="fd"/> that flushes every write.</summary>
    public static TextWriter CreateWriter(int fd) =>
        TextWriter.Synchronized(new StreamWriter(new FileDescriptorStream(fd), new UTF8Encoding(false), 4096) { AutoFlush = true, NewLine = "\n" });

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            fixed (byte* start = buffer)
            {
                byte* p = start;
                nint left = buffer.Length;
                while (left > 0)
                {
                    nint written = WriteFd(fd, p, left);
                    if (written < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == EINTR)
                        {
                            continue;
                        }

                        return; // closed or broken (e.g. `kaze status | head -1`): nothing useful to do
                    }

                    p += written;
                    left -= written;
                }
            }
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteFd(int fd, byte* buffer, nint count);
}
