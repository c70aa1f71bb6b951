using System.Net.Sockets;
using Kaze.Mesh.Tls;
using Kaze.Protocol;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The handshake of one <see cref="PeerConnection"/> (<see cref="Handshake.NegotiateAsync"/>,
/// the same negotiation <see cref="PeerClient"/> runs), on the connection's thread with blocking
/// I/O, bounded by <see cref="CorralOptions.HandshakeTimeout"/>. Its outcome is the peer's hello
/// and the frame limit agreed, or a refusal recorded on the connection (counted, logged, and
/// reported to the session that dialled).
/// </summary>
internal sealed class ConnectionHandshake : IHandshakeTransport
{
    private const int Running = 0;
    private const int Finished = 1;
    private const int TimedOut = 2;

    private readonly PeerConnection _connection;

    // Running, then Finished or TimedOut (Interlocked): whichever comes first decides.
    private int _state;

    // Frames the handshake has started to read: 1 while it waits for the hello, 2 for the proof.
    private int _reads;

    public ConnectionHandshake(PeerConnection connection)
    {
        _connection = connection;
    }

    /// <summary>Runs the handshake; the outcome if accepted, null when it failed (recorded).</summary>
    public HandshakeResult? Run()
    {
        PeerCorral corral = _connection.Corral;
        CorralOptions options = corral.Options;
        HandshakeResult result;
        using (var timeout = new CancellationTokenSource(options.HandshakeTimeout))
        using (timeout.Token.UnsafeRegister(static state => ((ConnectionHandshake)state!).OnTimeout(), this))
        {
            if (corral.Options.Tls is { } credentials && !RunTls(credentials))
            {
                return null;
            }

            // The transport below never awaits, so the negotiation has completed when this returns.
            result = Handshake.NegotiateAsync(this, corral.Self, options, _connection.DialledIdent, CancellationToken.None).GetAwaiter().GetResult();
        }

        if (Interlocked.CompareExchange(ref _state, Finished, Running) != Running || result.Ended)
        {
            // Timed out, or the transport failed: recorded already.
            return null;
        }

        if (result.Hello is { } hello)
        {
            _connection.NamePeer(hello.Ident);
        }

        if (result.Refusal != HandshakeRefusal.None)
        {
            _connection.Refuse(result.Failure, Wording(result));
            return null;
        }

        if (_connection.Tls?.Peer is { Ident: { } certified } && result.Hello!.Ident != certified)
        {
            // The ident is the certificate's: a hello that claims another is refused.
            _connection.Refuse(ConnectionFailure.BadHello, $"the peer's certificate is for ident {certified} but its hello says {result.Hello.Ident}");
            return null;
        }

        return result;
    }

    /// <summary>TLS first, before any frame: false when it failed (recorded, as tls_failed).</summary>
    private bool RunTls(TlsCredentials credentials)
    {
        Socket? socket = _connection.Socket;
        if (socket is null)
        {
            return false;
        }

        var tls = new TlsConnection(socket);
        _connection.Tls = tls;
        string? failure = tls.Authenticate(_connection.Direction == ConnectionDirection.Inbound, credentials.Current);
        if (failure is null)
        {
            if (tls.Peer?.Ident is { } ident)
            {
                _connection.NamePeer(ident);
            }

            return true;
        }

        if (Volatile.Read(ref _state) == Running)
        {
            _connection.Refuse(ConnectionFailure.TlsFailed, failure);
        }

        return false;
    }

    ValueTask<bool> IHandshakeTransport.SendAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        if (_connection.Sender.SendHandshakeFrame(header, body.Span))
        {
            return new ValueTask<bool>(true);
        }

        _connection.Refuse(ConnectionFailure.PeerClosed, $"the connection failed during the handshake: {_connection.Sender.SendError}");
        return new ValueTask<bool>(false);
    }

    ValueTask<Packet?> IHandshakeTransport.ReadAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _reads);
        Packet? packet = _connection.Receiver.ReadHandshakeFrame(out ConnectionFailure failure, out string? reason);
        if (packet is null)
        {
            _connection.Refuse(failure, reason!);
            return new ValueTask<Packet?>((Packet?)null);
        }

        if (packet.Header.SrcIdent != 0)
        {
            // The claimed ident, for the log line if the hello is refused.
            _connection.NamePeer(new Ident(packet.Header.SrcIdent), onlyIfUnnamed: true);
        }

        return new ValueTask<Packet?>(packet);
    }

    private string Wording(HandshakeResult result)
    {
        Ident peer = result.Hello?.Ident ?? Ident.Any;
        return result.Refusal switch
        {
            HandshakeRefusal.NotAHello => result.Problem!,
            HandshakeRefusal.OwnIdent => $"the peer says it is {peer}, this sidecar's own ident",
            HandshakeRefusal.NotTheDialledIdent => $"dialled {_connection.DialledIdent} but the peer says it is {peer} (is the resolver out of date?)",
            HandshakeRefusal.SecretOnlyThere => "the peer requires a shared secret and none is configured here",
            HandshakeRefusal.SecretOnlyHere => "the peer has no shared secret and one is required here",
            HandshakeRefusal.OtherAuthScheme => $"the peer offers auth '{result.Hello!.AuthScheme}', not {Handshake.AuthScheme}",
            HandshakeRefusal.BadAuthFrame => $"expected a {Handshake.AuthBodyType} frame with a {Handshake.ProofSize}-byte proof, got '{result.AuthFrameType}' with {result.AuthFrameLength} bytes",
            HandshakeRefusal.WrongProof => "wrong proof: the peer does not know the shared secret",
            _ => result.Refusal.ToString(),
        };
    }

    private void OnTimeout()
    {
        if (Interlocked.CompareExchange(ref _state, TimedOut, Running) != Running)
        {
            return;
        }

        string stage = Volatile.Read(ref _reads) <= 1 ? "the peer's hello" : "the peer's auth frame";
        _connection.Refuse(ConnectionFailure.HandshakeTimeout, $"no {stage} within {_connection.Corral.Options.HandshakeTimeout.TotalSeconds:0.###} s");
    }
}
