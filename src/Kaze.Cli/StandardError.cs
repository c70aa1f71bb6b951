using System.Runtime.InteropServices;
using System.Text;

namespace Kaze.Cli;

/// <summary>
/// kaze's stderr, written with write(2) on file descriptor 2.
/// </summary>
/// <remarks>
/// Not System.Console: on a terminal its first use switches the terminal to application keypad
/// mode (ESC[?1h ESC=), which the host program then inherits. Not a FileStream over fd 2 either:
/// when stderr is a file, FileStream writes at offsets it tracks itself (pwrite), so lines
/// written by the host through the same descriptor get overwritten. write(2) appends at the
/// shared offset, as every other writer of the descriptor does.
/// </remarks>
internal static partial class StandardError
{
    private static readonly Lock Gate = new();

    public static TextWriter Writer { get; } = TextWriter.Synchronized(new StreamWriter(new Fd2Stream(), new UTF8Encoding(false), 4096) { AutoFlush = true });

    public static void WriteLine(string line) => Writer.WriteLine(line);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buffer, nint count);

    private sealed unsafe class Fd2Stream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (Gate)
            {
                fixed (byte* start = buffer)
                {
                    byte* p = start;
                    nint left = buffer.Length;
                    while (left > 0)
                    {
                        nint written = StandardError.Write(2, p, left);
                        if (written < 0)
                        {
                            if (Marshal.GetLastPInvokeError() == 4)
                            {
                                continue; // EINTR
                            }

                            return; // stderr closed or broken: nothing useful to do
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
    }
}
