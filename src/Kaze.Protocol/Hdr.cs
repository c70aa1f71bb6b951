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
    public static Hdr CreateRequest(Ident destination, string bodyType, uint sequence, uint timeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        if (timeoutMilliseconds == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(
                nameof(timeoutMilliseconds),
                "A request needs a timeout above zero; a packet that expects no response is a notify (CreateNotify).");
        }

        return new Hdr
        {
            BodyType = bodyType,
            Version = ProtocolVersion.Current,
            Timeout = timeoutMilliseconds,
            Req = sequence,
            DstIdent = destination.Value,
        };
    }

    /// <summary>A header for a one-way message to one node: no sequence, no timeout, no response.</summary>
    /// <param name="destination">The node; <see cref="Ident.Any"/> for the host of the sidecar that reads the packet.</param>
    /// <param name="bodyType">What the body is, e.g. "log.line".</param>
    /// <returns>A header with <see cref="Version"/> = <see cref="ProtocolVersion.Current"/> and <see cref="SrcIdent"/> left 0.</returns>
    public static Hdr CreateNotify(Ident destination, string bodyType)
    {
        ArgumentNullException.ThrowIfNull(bodyType);
        return new Hdr
        {
            BodyType = bodyType,
            Version = ProtocolVersion.Current,
            DstIdent = destination.Value,
        };
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
    public static Hdr CreateResponse(Hdr request, global::Kaze.Protocol.RetCode code, string bodyType = "")
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(bodyType);
        if (request.RpcTypeCase != RpcTypeOneofCase.Req)
        {
            ThrowHelper.ThrowArgumentException(
                $"Only a request (a header with req set) can be answered; this one has {request.RpcTypeCase}.",
                nameof(request));
        }

        return new Hdr
        {
            BodyType = bodyType,
            RetCode = (uint)code,
            Version = ProtocolVersion.Current,
            Rsp = request.Req,
            DstIdent = request.SrcIdent,
        };
    }
}
