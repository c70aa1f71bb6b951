using System.Net;
using Kaze.Protocol;

namespace Kaze.Mesh;

/// <summary>Where the corral stands with one peer.</summary>
public enum PeerState
{
    /// <summary>No connection and nothing under way; the next send dials.</summary>
    Idle = 0,

    /// <summary>Dialling or handshaking; packets queue meanwhile.</summary>
    Connecting = 1,

    /// <summary>A connection is up; packets flow.</summary>
    Connected = 2,

    /// <summary>The last attempt failed; sends return <see cref="SendResult.Unreachable"/> until the wait ends.</summary>
    Backoff = 3,
}

/// <summary>Which side opened a connection.</summary>
public enum ConnectionDirection
{
    /// <summary>This sidecar dialled the peer.</summary>
    Outbound = 0,

    /// <summary>The peer dialled this sidecar.</summary>
    Inbound = 1,
}

/// <summary>A snapshot of one peer, for status output and tests.</summary>
/// <param name="Ident">The peer's ident.</param>
/// <param name="State">Where the corral stands with the peer.</param>
/// <param name="RemoteEndPoint">The current connection's remote address, or null when not connected.</param>
/// <param name="Direction">Who opened the current connection, or null when not connected.</param>
/// <param name="ProtocolVersion">The protocol version in the peer's last hello, or 0 if none was received yet.</param>
/// <param name="MaxFrameSize">The frame size limit agreed with the peer (the smaller of both), or 0 when not connected.</param>
/// <param name="QueuedPackets">Packets waiting to be written to the peer.</param>
/// <param name="QueuedBytes">Bytes (as frames) waiting to be written to the peer.</param>
/// <param name="FramesIn">Frames received from the peer since start, all connections together.</param>
/// <param name="BytesIn">Bytes received from the peer since start.</param>
/// <param name="FramesOut">Frames written to the peer since start.</param>
/// <param name="BytesOut">Bytes written to the peer since start.</param>
/// <param name="BackoffRemaining">How long until the next attempt is allowed, when in <see cref="PeerState.Backoff"/>; otherwise zero.</param>
public sealed record PeerStatus(
    Ident Ident,
    PeerState State,
    IPEndPoint? RemoteEndPoint,
    ConnectionDirection? Direction,
    uint ProtocolVersion,
    int MaxFrameSize,
    int QueuedPackets,
    long QueuedBytes,
    long FramesIn,
    long BytesIn,
    long FramesOut,
    long BytesOut,
    TimeSpan BackoffRemaining);
