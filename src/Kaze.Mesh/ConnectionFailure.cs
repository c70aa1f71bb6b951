namespace Kaze.Mesh;

/// <summary>Why a connection attempt failed or a connection was closed; counted in <see cref="CorralCounters"/>.</summary>
public enum ConnectionFailure
{
    /// <summary>connect_failed: the TCP connection to the peer's address could not be made (refused, unreachable, timed out).</summary>
    ConnectFailed = 0,

    /// <summary>unresolved: the resolver does not know the peer, or failed.</summary>
    Unresolved = 1,

    /// <summary>handshake_timeout: the handshake did not complete within the handshake timeout.</summary>
    HandshakeTimeout = 2,

    /// <summary>bad_hello: the first frame was not a valid hello (wrong body type, missing fields, our own ident, the wrong ident).</summary>
    BadHello = 3,

    /// <summary>auth_failed: the shared secret check failed (wrong proof, or a secret on one side only).</summary>
    AuthFailed = 4,

    /// <summary>bad_frame: bytes that are not a frame (bad lengths, an invalid header).</summary>
    BadFrame = 5,

    /// <summary>frame_too_large: a frame whose total length is over the agreed maximum.</summary>
    FrameTooLarge = 6,

    /// <summary>peer_closed: the peer closed or reset the connection, or a write to it failed.</summary>
    PeerClosed = 7,

    /// <summary>duplicate: a second connection to the same peer was closed in favour of the one dialled by the lower ident.</summary>
    Duplicate = 8,

    /// <summary>connection_limit: refused at accept, <see cref="CorralOptions.MaxConnections"/> connections were open already.</summary>
    ConnectionLimit = 9,

    /// <summary>handshake_limit: refused at accept, <see cref="CorralOptions.MaxHandshaking"/> connections were still in their handshake.</summary>
    HandshakeLimit = 10,

    /// <summary>slow_frame: a frame whose first bytes had arrived was not complete within <see cref="CorralOptions.FrameTimeout"/> (trickling).</summary>
    SlowFrame = 11,

    /// <summary>receive_budget: a frame needed more receive buffer than the sidecar had left (<see cref="CorralOptions.ReceiveBudget"/>).</summary>
    ReceiveBudget = 12,

    /// <summary>tls_failed: the TLS handshake failed: the peer's certificate is not of this mesh's CA, expired, not yet valid, binds no ident, or the peer does not speak TLS 1.3.</summary>
    TlsFailed = 13,
}

/// <summary>Names of <see cref="ConnectionFailure"/> values for metrics and logs.</summary>
public static class ConnectionFailureExtensions
{
    /// <summary>Every reason, in order, for exporters that list all of them.</summary>
    public static IReadOnlyList<ConnectionFailure> All { get; } = Enum.GetValues<ConnectionFailure>();

    /// <summary>The snake_case metric label, e.g. "auth_failed".</summary>
    /// <param name="failure">The reason.</param>
    /// <returns>The label.</returns>
    public static string ToMetricName(this ConnectionFailure failure) => failure switch
    {
        ConnectionFailure.ConnectFailed => "connect_failed",
        ConnectionFailure.Unresolved => "unresolved",
        ConnectionFailure.HandshakeTimeout => "handshake_timeout",
        ConnectionFailure.BadHello => "bad_hello",
        ConnectionFailure.AuthFailed => "auth_failed",
        ConnectionFailure.BadFrame => "bad_frame",
        ConnectionFailure.FrameTooLarge => "frame_too_large",
        ConnectionFailure.PeerClosed => "peer_closed",
        ConnectionFailure.Duplicate => "duplicate",
        ConnectionFailure.ConnectionLimit => "connection_limit",
        ConnectionFailure.HandshakeLimit => "handshake_limit",
        ConnectionFailure.SlowFrame => "slow_frame",
        ConnectionFailure.ReceiveBudget => "receive_budget",

        ConnectionFailure.TlsFailed => "tls_failed",
        _ => "unknown",
    };
}
