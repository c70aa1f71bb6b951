using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kaze.Mesh.Sessions;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The socket calls .NET does not offer: a send and a receive that never block on a socket that
/// stays in blocking mode (send(2) and recv(2) with MSG_DONTWAIT). The corral's sockets stay blocking so that each
/// connection's reader thread can sleep in recv(2) and be woken by the kernel directly; .NET would
/// switch a socket to non-blocking for good on its first asynchronous operation, after which every
/// blocking call goes through its epoll thread (one more thread wake-up per read). The blocking
/// <see cref="SendBlocking"/> and <see cref="ReceiveBlocking"/> report in the same terms, so callers handle one shape.
/// </summary>
internal static partial class SocketIo
{
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int EIntr = 4;
    private const int EAgain = 11;

    /// <summary>What a non-blocking call did.</summary>
    public enum IoStatus
    {
        /// <summary>Bytes were moved (maybe not all); a receive of 0 bytes is the peer's FIN.</summary>
        Done,

        /// <summary>Nothing could be moved without waiting.</summary>
        WouldBlock,

        /// <summary>The connection failed or the socket is closed; <c>error</c> says why.</summary>
        Failed,
    }

    /// <summary>Sends as much of <paramref name="data"/> as the socket takes now, never waiting.</summary>
    /// <param name="socket">A connected stream socket.</param>
    /// <param name="data">The bytes; not empty.</param>
    /// <param name="sent">The bytes taken, when <see cref="IoStatus.Done"/>.</param>
    /// <param name="error">Why, in words, when <see cref="IoStatus.Failed"/>.</param>
    /// <returns>What happened.</returns>
    public static unsafe IoStatus TrySend(Socket socket, ReadOnlySpan<byte> data, out int sent, out string? error)
    {
        fixed (byte* bytes = data)
        {
            return Call(socket, bytes, data.Length, out sent, out error);
        }
    }

    /// <summary>Sends some of <paramref name="data"/>, waiting for room in the socket's buffer (the socket is blocking).</summary>
    /// <param name="socket">A connected, blocking stream socket.</param>
    /// <param name="data">The bytes; not empty.</param>
    /// <param name="sent">The bytes taken, when <see cref="IoStatus.Done"/>.</param>
    /// <param name="error">Why, in words, when <see cref="IoStatus.Failed"/>.</param>
    /// <returns><see cref="IoStatus.Done"/> or <see cref="IoStatus.Failed"/>.</returns>
    public static IoStatus SendBlocking(Socket socket, ReadOnlySpan<byte> data, out int sent, out string? error)
    {
        try
        {
            sent = socket.Send(data, SocketFlags.None, out SocketError socketError);
            return Result(socketError, out error);
        }
        catch (ObjectDisposedException)
        {
            sent = 0;
            error = "the socket is closed";
            return IoStatus.Failed;
        }
    }

    /// <summary>Receives into <paramref name="buffer"/>, waiting until bytes arrive (the socket is blocking).</summary>
    /// <param name="socket">A connected, blocking stream socket.</param>
    /// <param name="buffer">Where to put the bytes; not empty.</param>
    /// <param name="received">The bytes received, when <see cref="IoStatus.Done"/>; 0 is the peer's FIN.</param>
    /// <param name="error">Why, in words, when <see cref="IoStatus.Failed"/>.</param>
    /// <returns><see cref="IoStatus.Done"/> or <see cref="IoStatus.Failed"/>.</returns>
    public static IoStatus ReceiveBlocking(Socket socket, Span<byte> buffer, out int received, out string? error)
    {
        try
        {
            received = socket.Receive(buffer, SocketFlags.None, out SocketError socketError);
            return Result(socketError, out error);
        }
        catch (ObjectDisposedException)
        {
            received = 0;
            error = "the socket is closed";
            return IoStatus.Failed;
        }
    }

    private static IoStatus Result(SocketError socketError, out string? error)
    {
        error = socketError == SocketError.Success ? null : new SocketException((int)socketError).Message;
        return error is null ? IoStatus.Done : IoStatus.Failed;
    }

    /// <summary>Receives what has already arrived into <paramref name="buffer"/>, never waiting.</summary>
    /// <param name="socket">A connected stream socket.</param>
    /// <param name="buffer">Where to put the bytes; not empty.</param>
    /// <param name="received">The bytes received, when <see cref="IoStatus.Done"/>; 0 is the peer's FIN.</param>
    /// <param name="error">Why, in words, when <see cref="IoStatus.Failed"/>.</param>
    /// <returns>What happened.</returns>
    public static unsafe IoStatus TryReceive(Socket socket, Span<byte> buffer, out int received, out string? error)
    {
        fixed (byte* bytes = buffer)
        {
            return Call(socket, bytes, buffer.Length, out received, out error, receive: true);
        }
    }

    private static unsafe IoStatus Call(Socket socket, byte* bytes, int length, out int moved, out string? error, bool receive = false)
    {
        moved = 0;
        error = null;
        SafeSocketHandle handle;
        bool added = false;
        try
        {
            // Keeps the descriptor from being closed (and its number reused) during the call.
            handle = socket.SafeHandle;
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            error = "the socket is closed";
            return IoStatus.Failed;
        }

        try
        {
            int fd = (int)handle.DangerousGetHandle();
            while (true)
            {
                nint result = receive
                    ? Recv(fd, bytes, (nuint)length, MsgDontWait)
                    : Send(fd, bytes, (nuint)length, MsgDontWait | MsgNoSignal);
                if (result >= 0)
                {
                    moved = (int)result;
                    return IoStatus.Done;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr)
                {
                    continue;
                }

                if (errno == EAgain)
                {
                    return IoStatus.WouldBlock;
                }

                error = Marshal.GetPInvokeErrorMessage(errno);
                return IoStatus.Failed;
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);
}
