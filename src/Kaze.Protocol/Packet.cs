using System.Buffers;

namespace Kaze.Protocol;

/// <summary>A header and a body; the body lives in a buffer rented from <see cref="ArrayPool{T}.Shared"/>.</summary>
/// <remarks>
/// The packet owns its body buffer: <see cref="Dispose"/> returns it to the pool, after which
/// <see cref="Body"/> throws and any memory taken from it earlier must no longer be read.
/// Dispose exactly once per owner; a second call does nothing. The header is an ordinary object that
/// middleware may change in place.
/// </remarks>
public sealed class Packet : IDisposable
{
    // Rented from ArrayPool<byte>.Shared, or Array.Empty for an empty body (never returned);
    // null once disposed. Swapped out with Interlocked so a racing double Dispose cannot return it twice.
    private byte[]? _buffer;

    // The body is _buffer[0.._bodyLength]: a rented array is usually longer than asked for.
    private readonly int _bodyLength;

    private Packet(Hdr header, byte[] buffer, int bodyLength)
    {
        Header = header;
        _buffer = buffer;
        _bodyLength = bodyLength;
    }

    /// <summary>The header. Changes to it are seen by whoever encodes the packet next.</summary>
    public Hdr Header { get; }

    /// <summary>The number of bytes in the body.</summary>
    public int BodyLength => _bodyLength;

    /// <summary>The body, valid until <see cref="Dispose"/>.</summary>
    /// <exception cref="ObjectDisposedException">The packet was disposed.</exception>
    public ReadOnlyMemory<byte> Body => new(GetBuffer(), 0, _bodyLength);

    /// <summary>The body as a span, valid until <see cref="Dispose"/>.</summary>
    /// <exception cref="ObjectDisposedException">The packet was disposed.</exception>
    public ReadOnlySpan<byte> BodySpan => new(GetBuffer(), 0, _bodyLength);

    /// <summary>A packet with a copy of <paramref name="body"/> in pooled memory.</summary>
    /// <param name="header">The header; the packet keeps this instance, it is not copied.</param>
    /// <param name="body">The body to copy.</param>
    /// <returns>A packet the caller owns and disposes.</returns>
    public static Packet Create(Hdr header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        byte[] buffer = Rent(body.Length);
        body.CopyTo(buffer);
        return new Packet(header, buffer, body.Length);
    }

    /// <summary>A request packet: <see cref="Hdr.CreateRequest"/> with a copy of <paramref name="body"/>.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is, e.g. "echo.req".</param>
    /// <param name="sequence">The request's sequence number, echoed in the response.</param>
    /// <param name="timeoutMilliseconds">How long the sender waits for the response; must be above zero.</param>
    /// <param name="body">The body to copy.</param>
    /// <returns>A packet the caller owns and disposes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeoutMilliseconds"/> is 0.</exception>
    public static Packet CreateRequest(Ident destination, string bodyType, uint sequence, uint timeoutMilliseconds, ReadOnlySpan<byte> body) =>
        Create(Hdr.CreateRequest(destination, bodyType, sequence, timeoutMilliseconds), body);

    /// <summary>A one-way packet: <see cref="Hdr.CreateNotify"/> with a copy of <paramref name="body"/>.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="body">The body to copy.</param>
    /// <returns>A packet the caller owns and disposes.</returns>
    public static Packet CreateNotify(Ident destination, string bodyType, ReadOnlySpan<byte> body) =>
        Create(Hdr.CreateNotify(destination, bodyType), body);

    /// <summary>
    /// A response to <paramref name="request"/>: <see cref="Hdr.CreateResponse"/> (rsp = the request's req,
    /// dstIdent = the request's srcIdent) with a copy of <paramref name="body"/>.
    /// </summary>
    /// <param name="request">The request's header; it must carry req.</param>
    /// <param name="code">The outcome.</param>
    /// <param name="body">The body to copy; empty for most errors.</param>
    /// <param name="bodyType">What the body is, e.g. "echo.rsp".</param>
    /// <returns>A packet the caller owns and disposes.</returns>
    /// <exception cref="ArgumentException"><paramref name="request"/> is not a request.</exception>
    public static Packet CreateResponse(Hdr request, RetCode code, ReadOnlySpan<byte> body, string bodyType = "") =>
        Create(Hdr.CreateResponse(request, code, bodyType), body);

    /// <summary>Returns the body buffer to the pool. Later calls do nothing.</summary>
    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is { Length: > 0 })
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The decoders' path: the body is copied once, straight from the received bytes.
    internal static Packet Create(Hdr header, in ReadOnlySequence<byte> body)
    {
        // Callers pass slices of frames no larger than the reader's limit, which is below int.MaxValue.
        int length = checked((int)body.Length);
        byte[] buffer = Rent(length);
        body.CopyTo(buffer);
        return new Packet(header, buffer, length);
    }

    private static byte[] Rent(int length) => length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);

    private byte[] GetBuffer()
    {
        byte[]? buffer = Volatile.Read(ref _buffer);
        if (buffer is null)
        {
            ThrowHelper.ThrowObjectDisposed(nameof(Packet));
        }

        return buffer;
    }
}
