using System.Runtime.InteropServices;
using System.Text;

namespace Kaze.Cli.Commands;

/// <summary>
/// stdout for the commands that print a result (send, status, config), written with write(2) on
/// file descriptor 1, for the reasons <see cref="StandardError"/> gives: System.Console would switch
/// a terminal to application keypad mode, and a FileStream would write at offsets of its own.
/// </summary>
internal static partial class StandardOutput
{
    private static readonly Lock Gate = new();

    public static TextWriter Writer { get; } = TextWriter.Synchronized(new StreamWriter(new Fd1Stream(), new UTF8Encoding(false), 4096) { AutoFlush = true, NewLine = "\n" });

    public static void WriteLine(string line) => Writer.WriteLine(line);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buffer, nint count);

    private sealed unsafe class Fd1Stream : Stream
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
                        nint written = StandardOutput.Write(1, p, left);
                        if (written < 0)
                        {
                            if (Marshal.GetLastPInvokeError() == 4)
                            {
                                continue; // EINTR
                            }

                            return; // stdout closed (e.g. `kaze status | head -1`): nothing useful to do
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
