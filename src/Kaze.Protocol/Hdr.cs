namespace Kaze.Protocol;

// The message itself is generated from Protos/kaze.proto; this part adds the constructors of the
// three kinds of packet, so every sender fills the fields the same way.
public sealed partial class Hdr
{
    /// <summary>
    /// Whether the sender waits for an answer: a request (<see cref="Req"/> set) with a
    /// <see cref="Timeout"/> above zero.
    /// </summary>
    public bool ExpectsResponse => RpcTypeCase == RpcTypeOneofCase.Req && Timeout > 0;

    /// <summary>
    /// Sets every field back to its default, as in a new <see cref="Hdr"/>, so one instance can be
    /// reused for many packets (a new header costs four objects: the message and its headers map).
    /// </summary>
    /// <remarks>A field added to kaze.proto must be cleared here too; <c>HdrTests</c> sets every field the descriptor lists and checks.</remarks>
    public void Clear()
    {
        bodyType_ = "";
        srcIdent_ = 0;
        retCode_ = 0;
        version_ = 0;
        timeout_ = 0;
        ClearRpcType();
        headers_.Clear();
        ClearRouteType();
        _unknownFields = null;
    }

    /// <summary>A header for a request to one node, answered within <paramref name="timeoutMilliseconds"/>.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is, e.g. "echo.req".</param>
    /// <param name="sequence">The request's sequence number, echoed in the response's <see cref="Rsp"/>.</param>
    /// <param name="timeoutMilliseconds">How long the sender waits for the response; must be above zero.</param>
    /// <returns>A header with <see cref="Version"/> = <see cref="ProtocolVersion.Current"/> and <see cref="SrcIdent"/> left 0.</returns>
    /// <remarks>
    /// <see cref="SrcIdent"/> is left 0 for the sender's sidecar to stamp; set it before sending if this
    /// process knows its ident and no sidecar sits in between. For other routes, set
    /// <see cref="DstRandom"/>, <see cref="DstBroadcast"/> or <see cref="DstMulticast"/> on the result.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeoutMilliseconds"/> is 0: that is a notify.</exception>
    public static Hdr CreateRequest(Ident destination, string bodyType, uint sequence, uint timeoutMilliseconds) =>
        new Hdr().ResetAsRequest(destination, bodyType, sequence, timeoutMilliseconds);

    /// <summary>Clears this header and makes it what <see cref="CreateRequest"/> returns, for reusing one instance.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <param name="sequence">The request's sequence number.</param>
    /// <param name="timeoutMilliseconds">How long the sender waits for the response; must be above zero.</param>
    /// <returns>This header.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeoutMilliseconds"/> is 0: that is a notify.</exception>
    public Hdr ResetAsRequest(Ident destination, string bodyType, uint sequence, uint timeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        if (timeoutMilliseconds == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(
                nameof(timeoutMilliseconds),
                "A request needs a timeout above zero; a packet that expects no response is a notify (CreateNotify).");
        }

        Clear();
        BodyType = bodyType;
        Version = ProtocolVersion.Current;
        Timeout = timeoutMilliseconds;
        Req = sequence;
        DstIdent = destination.Value;
        return this;
    }

    /// <summary>A header for a one-way message to one node: no sequence, no timeout, no response.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is, e.g. "log.line".</param>
    /// <returns>A header with <see cref="Version"/> = <see cref="ProtocolVersion.Current"/> and <see cref="SrcIdent"/> left 0.</returns>
    public static Hdr CreateNotify(Ident destination, string bodyType) => new Hdr().ResetAsNotify(destination, bodyType);

    /// <summary>Clears this header and makes it what <see cref="CreateNotify"/> returns, for reusing one instance.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <returns>This header.</returns>
    public Hdr ResetAsNotify(Ident destination, string bodyType)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        Clear();
        BodyType = bodyType;
        Version = ProtocolVersion.Current;
        DstIdent = destination.Value;
        return this;
    }

    /// <summary>A header answering <paramref name="request"/>: sent back to its sender, with its sequence.</summary>
    /// <param name="request">The request; it must carry <see cref="Req"/>.</param>
    /// <param name="code">The outcome.</param>
    /// <param name="bodyType">What the body is, e.g. "echo.rsp"; empty for error responses without a body.</param>
    /// <returns>
    /// A header with <see cref="Rsp"/> = the request's <see cref="Req"/>, <see cref="DstIdent"/> = the
    /// request's <see cref="SrcIdent"/>, <see cref="RetCode"/> = <paramref name="code"/>, no timeout, and
    /// <see cref="SrcIdent"/> left 0 for the responder's sidecar to stamp.
    /// </returns>
    /// <remarks>The request's <see cref="Headers"/> are not copied: a response carries its own.</remarks>
    /// <exception cref="ArgumentException"><paramref name="request"/> is not a request.</exception>
    public static Hdr CreateResponse(Hdr request, global::Kaze.Protocol.RetCode code, string bodyType = "") =>
        new Hdr().ResetAsResponse(request, code, bodyType);

    /// <summary>Clears this header and makes it what <see cref="CreateResponse"/> returns, for reusing one instance.</summary>
    /// <param name="request">The request; it must carry <see cref="Req"/>. It may be this very header.</param>
    /// <param name="code">The outcome.</param>
    /// <param name="bodyType">What the body is; empty for error responses without a body.</param>
    /// <returns>This header.</returns>
    /// <exception cref="ArgumentException"><paramref name="request"/> is not a request.</exception>
    public Hdr ResetAsResponse(Hdr request, global::Kaze.Protocol.RetCode code, string bodyType = "")
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(bodyType);
        if (request.RpcTypeCase != RpcTypeOneofCase.Req)
        {
            ThrowHelper.ThrowArgumentException(
                $"Only a request (a header with req set) can be answered; this one has {request.RpcTypeCase}.",
                nameof(request));
        }

        // Read before Clear: the request may be this header.
        uint sequence = request.Req;
        uint destination = request.SrcIdent;
        Clear();
        BodyType = bodyType;
        RetCode = (uint)code;
        Version = ProtocolVersion.Current;
        Rsp = sequence;
        DstIdent = destination;
        return this;
    }
}
