using Kaze.Protocol;

namespace Kaze.Service;

/// <summary>
/// A part of the sidecar process that takes packets addressed to this node by their body type,
/// instead of the host: the HTTP gateway. Attached with the node's <c>Attach</c>, which gives it
/// an <see cref="ISidecarPort"/> to send with.
/// </summary>
public interface ILocalEndpoint
{
    /// <summary>Whether packets of <paramref name="bodyType"/> that reach this node are this endpoint's rather than the host's, and how they get here.</summary>
    /// <remarks>Called for every packet delivered on this node while an endpoint is attached: keep it a few comparisons.</remarks>
    EndpointClaim Claim(string bodyType);

    /// <summary>
    /// A packet for this node whose body type it claims: a request or notify routed here, or a
    /// packet of an exchange this endpoint runs. Takes ownership. Called on the thread that routed
    /// it (a connection's reader, the edge's reader, a timer): must not block.
    /// </summary>
    void Deliver(Packet packet);

    /// <summary>
    /// A packet of a <see cref="EndpointClaim.Direct"/> body type this endpoint sent with
    /// <see cref="ISidecarPort.Send"/> that the mesh gave back (its connection failed before it
    /// was written). Takes ownership; must not block.
    /// </summary>
    void Undeliverable(Packet packet);
}

/// <summary>How packets of a body type reach a local endpoint.</summary>
public enum EndpointClaim
{
    /// <summary>Not the endpoint's: the host's, as usual.</summary>
    None = 0,

    /// <summary>Through the pipeline like any packet (rate limits and plugins see it), then to the endpoint when routed to this node.</summary>
    Routed = 1,

    /// <summary>
    /// Packets of an exchange already under way: when they arrive from another sidecar addressed
    /// to this node they skip the pipeline, so they stay in the order they were sent and are not
    /// counted again by per-packet limits.
    /// </summary>
    Direct = 2,
}

/// <summary>Receives the one answer to a request an <see cref="ILocalEndpoint"/> made through <see cref="ISidecarPort.Track"/>.</summary>
public interface IAnswerSink
{
    /// <summary>
    /// The response, or the sidecar's own answer (RET_TIMEOUT when the request's timeout passed,
    /// RET_UNREACHABLE, RET_RESOURCE_EXHAUSTED). Called exactly once per tracked request, unless
    /// it was forgotten; takes ownership; must not block.
    /// </summary>
    void Answer(Packet response);
}

/// <summary>What an <see cref="ILocalEndpoint"/> may do through its node.</summary>
/// <remarks>
/// Requests an endpoint makes share the node's sequence space with its host's requests: their
/// sequence numbers come from the upper half (0x80000000 and up), never one the host has in
/// flight, so the response to each reaches the right one (docs/host-protocol.md).
/// </remarks>
public interface ISidecarPort
{
    /// <summary>This node's ident.</summary>
    Ident Self { get; }

    /// <summary>
    /// Tracks <paramref name="request"/> (a request header with a timeout above zero) as this
    /// node's: sets its <c>req</c> to a free sequence number and its <c>srcIdent</c> to this node,
    /// and arms its timeout. The answer goes to <paramref name="sink"/>. Send the packet with
    /// <see cref="Route"/> afterwards.
    /// </summary>
    /// <returns>The sequence number.</returns>
    uint Track(Hdr request, IAnswerSink sink);

    /// <summary>Stops tracking a request: its answer, if one still comes, is dropped. Does nothing if it was answered.</summary>
    void Forget(uint sequence);

    /// <summary>
    /// Sends a tracked request through the pipeline as if this node's host sent it (rate limits and
    /// plugins see it), then where its route says. A refusal on the way answers the sink. Takes ownership.
    /// </summary>
    void Route(Packet request);

    /// <summary>
    /// Sends <paramref name="packet"/> straight to the node in its <c>dstIdent</c> (0.0.0.0 or this
    /// node: delivered here), without the pipeline, after the packets sent to that node before it.
    /// Takes ownership.
    /// </summary>
    /// <returns>
    /// <see cref="RetCode.Ok"/> when queued; <see cref="RetCode.Unreachable"/> when there is no way
    /// to the node; <see cref="RetCode.ResourceExhausted"/> when its queue is full or the packet is
    /// larger than a frame may be. The packet is disposed on failure.
    /// </returns>
    RetCode Send(Packet packet);
}
