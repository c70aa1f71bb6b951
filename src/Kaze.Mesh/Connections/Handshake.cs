using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Kaze.Mesh.Sessions;
using Kaze.Protocol;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The frames two sidecars exchange when a connection opens. They are ordinary TCP frames
/// (<see cref="TcpFraming"/>), so the framing stays upstream's.
/// </summary>
/// <remarks>
/// <code>
///   dialler                                      acceptor
///     | ── kaze.hello {ident, version, max-frame, nonce, [auth]} ──▶ |   both send at once,
///     | ◀── kaze.hello {ident, version, max-frame, nonce, [auth]} ── |   without waiting
///     |                                                              |
///     |   with a secret only, each after it has read the other's hello:
///     | ── kaze.auth  body = HMAC(secret, transcript as sender) ───▶ |
///     | ◀── kaze.auth  body = HMAC(secret, transcript as sender) ─── |
///     |                                                              |
///     |   each side checks the other's proof, then: packets both ways
/// </code>
/// hello: <c>Hdr.BodyType</c> = "kaze.hello", <c>Hdr.SrcIdent</c> = the sender's ident,
/// <c>Hdr.Version</c> = <see cref="ProtocolVersion.Current"/>, empty body, and in <c>Hdr.Headers</c>:
/// "max-frame" = u32 LE, the largest frame the sender receives; "nonce" = 16 random bytes;
/// "auth" = "hmac-sha256" (ASCII) if and only if the sender has a secret.
/// <para>
/// auth: <c>Hdr.BodyType</c> = "kaze.auth", body = HMAC-SHA256(secret, "kaze-auth-v1" ‖ receiver's
/// nonce ‖ sender's nonce ‖ sender's ident (u32 BE) ‖ receiver's ident (u32 BE)), 32 bytes. The
/// receiver computes the same with the roles swapped and compares in constant time. The order of
/// the fields binds a proof to one connection and one direction: a proof cannot be replayed on
/// another connection (fresh nonces) nor reflected back to its sender (the idents swap places).
/// </para>
/// The connection then uses the smaller of the two max-frame values in both directions.
/// </remarks>
internal static class Handshake
{
    public const string HelloBodyType = "kaze.hello";
    public const string AuthBodyType = "kaze.auth";
    public const string MaxFrameHeader = "max-frame";
    public const string NonceHeader = "nonce";
    public const string AuthHeader = "auth";
    public const string AuthScheme = "hmac-sha256";
    public const int NonceSize = 16;
    public const int ProofSize = HMACSHA256.HashSizeInBytes;

    /// <summary>The limit on frames before the handshake is done: a hello or an auth frame is far smaller.</summary>
    public const int MaxHandshakeFrameSize = 16 * 1024;

    private static ReadOnlySpan<byte> ProofLabel => "kaze-auth-v1"u8;

    // The HMAC input: label ‖ nonce ‖ nonce ‖ ident ‖ ident.
    private const int TranscriptSize = 12 + NonceSize + NonceSize + sizeof(uint) + sizeof(uint);

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceSize);

    public static Hdr CreateHello(Ident self, int maxFrameSize, byte[] nonce, bool withAuth)
    {
        var header = new Hdr
        {
            BodyType = HelloBodyType,
            SrcIdent = self.Value,
            Version = ProtocolVersion.Current,
        };
        Span<byte> maxFrame = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(maxFrame, (uint)maxFrameSize);
        header.Headers.Add(MaxFrameHeader, ByteString.CopyFrom(maxFrame));
        header.Headers.Add(NonceHeader, ByteString.CopyFrom(nonce));
        if (withAuth)
        {
            header.Headers.Add(AuthHeader, ByteString.CopyFromUtf8(AuthScheme));
        }

        return header;
    }

    public static Hdr CreateAuth(Ident self) => new()
    {
        BodyType = AuthBodyType,
        SrcIdent = self.Value,
        Version = ProtocolVersion.Current,
    };

    /// <summary>Reads a peer's hello; null and a reason when it is not a usable one.</summary>
    public static PeerHello? ParseHello(Hdr header, out string? problem)
    {
        if (header.BodyType != HelloBodyType)
        {
            problem = $"the first frame is '{Truncate(header.BodyType)}', not {HelloBodyType} (a sidecar without the Kaze.NET handshake?)";
            return null;
        }

        if (header.Version == ProtocolVersion.Unversioned)
        {
            problem = "the hello has no protocol version";
            return null;
        }

        if (header.SrcIdent == 0)
        {
            problem = "the hello has no ident (0.0.0.0)";
            return null;
        }

        if (!header.Headers.TryGetValue(MaxFrameHeader, out ByteString? maxFrame) || maxFrame.Length != sizeof(uint))
        {
            problem = $"the hello has no 4-byte '{MaxFrameHeader}'";
            return null;
        }

        uint peerMaxFrame = BinaryPrimitives.ReadUInt32LittleEndian(maxFrame.Span);
        if (peerMaxFrame < CorralOptions.MinMaxFrameSize)
        {
            problem = $"the hello's max-frame {peerMaxFrame} is below {CorralOptions.MinMaxFrameSize}";
            return null;
        }

        if (!header.Headers.TryGetValue(NonceHeader, out ByteString? nonce) || nonce.Length != NonceSize)
        {
            problem = $"the hello has no {NonceSize}-byte '{NonceHeader}'";
            return null;
        }

        string? auth = header.Headers.TryGetValue(AuthHeader, out ByteString? scheme) ? scheme.ToStringUtf8() : null;
        problem = null;
        return new PeerHello(
            new Ident(header.SrcIdent),
            header.Version,
            (int)Math.Min(peerMaxFrame, (uint)TcpFraming.MaxSupportedFrameSize),
            nonce.ToByteArray(),
            auth);
    }

    /// <summary>The proof the sender of an auth frame computes; the receiver calls it with the roles swapped.</summary>
    public static byte[] ComputeProof(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> receiverNonce, ReadOnlySpan<byte> senderNonce, Ident sender, Ident receiver)
    {
        Span<byte> transcript = stackalloc byte[TranscriptSize];
        ProofLabel.CopyTo(transcript);
        int offset = ProofLabel.Length;
        receiverNonce.CopyTo(transcript[offset..]);
        offset += NonceSize;
        senderNonce.CopyTo(transcript[offset..]);
        offset += NonceSize;
        BinaryPrimitives.WriteUInt32BigEndian(transcript[offset..], sender.Value);
        offset += sizeof(uint);
        BinaryPrimitives.WriteUInt32BigEndian(transcript[offset..], receiver.Value);
        return HMACSHA256.HashData(secret, transcript);
    }

    /// <summary>
    /// Runs the handshake over <paramref name="transport"/>: sends this side's hello, reads and
    /// checks the peer's, and with a secret exchanges and checks the proofs. The checks and their
    /// order live here only; each caller words the outcome for its audience.
    /// </summary>
    /// <param name="transport">Sends and reads frames; it deals with a failed or closed connection itself.</param>
    /// <param name="self">This side's ident.</param>
    /// <param name="options">Used: <see cref="CorralOptions.Secret"/> and <see cref="CorralOptions.MaxFrameSize"/>.</param>
    /// <param name="dialled">The ident this side dialled, which the peer must have; null if it need not be checked.</param>
    /// <param name="ct">Passed to the transport.</param>
    /// <returns>The outcome: accepted, a refusal, or the transport ended (<see cref="HandshakeResult"/>).</returns>
    public static async Task<HandshakeResult> NegotiateAsync(IHandshakeTransport transport, Ident self, CorralOptions options, Ident? dialled, CancellationToken ct)
    {
        byte[]? secret = options.Secret;
        byte[] nonce = NewNonce();
        var result = new HandshakeResult();
        if (!await transport.SendAsync(CreateHello(self, options.MaxFrameSize, nonce, secret is not null), ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false))
        {
            return result.End();
        }

        using Packet? first = await transport.ReadAsync(ct).ConfigureAwait(false);
        if (first is null)
        {
            return result.End();
        }

        PeerHello? hello = ParseHello(first.Header, out string? problem);
        if (hello is null)
        {
            result.Problem = problem;
            return result.Refuse(HandshakeRefusal.NotAHello);
        }

        result.Hello = hello;
        if (hello.Ident == self)
        {
            return result.Refuse(HandshakeRefusal.OwnIdent);
        }

        if (dialled is { } expected && hello.Ident != expected)
        {
            return result.Refuse(HandshakeRefusal.NotTheDialledIdent);
        }

        if (secret is null && hello.AuthScheme is not null)
        {
            return result.Refuse(HandshakeRefusal.SecretOnlyThere);
        }

        if (secret is not null && hello.AuthScheme is null)
        {
            return result.Refuse(HandshakeRefusal.SecretOnlyHere);
        }

        if (secret is not null)
        {
            if (hello.AuthScheme != AuthScheme)
            {
                return result.Refuse(HandshakeRefusal.OtherAuthScheme);
            }

            byte[] proof = ComputeProof(secret, hello.Nonce, nonce, self, hello.Ident);
            if (!await transport.SendAsync(CreateAuth(self), proof, ct).ConfigureAwait(false))
            {
                return result.End();
            }

            using Packet? auth = await transport.ReadAsync(ct).ConfigureAwait(false);
            if (auth is null)
            {
                return result.End();
            }

            if (auth.Header.BodyType != AuthBodyType || auth.BodyLength != ProofSize)
            {
                result.AuthFrameType = auth.Header.BodyType;
                result.AuthFrameLength = auth.BodyLength;
                return result.Refuse(HandshakeRefusal.BadAuthFrame);
            }

            byte[] expectedProof = ComputeProof(secret, nonce, hello.Nonce, hello.Ident, self);
            if (!CryptographicOperations.FixedTimeEquals(expectedProof, auth.BodySpan))
            {
                return result.Refuse(HandshakeRefusal.WrongProof);
            }
        }

        result.MaxFrameSize = Math.Min(options.MaxFrameSize, hello.MaxFrameSize);
        return result;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");
}

/// <summary>What a peer said in its hello.</summary>
internal sealed record PeerHello(Ident Ident, uint Version, int MaxFrameSize, byte[] Nonce, string? AuthScheme);

/// <summary>Sends and reads the frames of a handshake (<see cref="Handshake.NegotiateAsync"/>).</summary>
internal interface IHandshakeTransport
{
    /// <summary>Sends one frame; false when the connection failed (the transport has dealt with it).</summary>
    ValueTask<bool> SendAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct);

    /// <summary>The next frame (at most <see cref="Handshake.MaxHandshakeFrameSize"/>), owned by the caller; null when the connection ended (the transport has dealt with why).</summary>
    ValueTask<Packet?> ReadAsync(CancellationToken ct);
}

/// <summary>Why a handshake was refused.</summary>
internal enum HandshakeRefusal
{
    /// <summary>Not refused.</summary>
    None,

    /// <summary>The first frame is not a usable hello (<see cref="HandshakeResult.Problem"/> says why).</summary>
    NotAHello,

    /// <summary>The peer claims this side's own ident.</summary>
    OwnIdent,

    /// <summary>The peer is not the ident this side dialled.</summary>
    NotTheDialledIdent,

    /// <summary>The peer has a secret, this side has none.</summary>
    SecretOnlyThere,

    /// <summary>This side has a secret, the peer has none.</summary>
    SecretOnlyHere,

    /// <summary>The peer offers another auth scheme.</summary>
    OtherAuthScheme,

    /// <summary>The frame after the hello is not a proof.</summary>
    BadAuthFrame,

    /// <summary>The peer's proof is wrong: it does not know the secret.</summary>
    WrongProof,
}

/// <summary>
/// The outcome of <see cref="Handshake.NegotiateAsync"/>. Neither <see cref="Ended"/> nor refused
/// (<see cref="Refusal"/> None): accepted, and <see cref="Hello"/> and <see cref="MaxFrameSize"/> are set.
/// </summary>
internal sealed class HandshakeResult
{
    /// <summary>The transport ended the handshake (closed, failed, timed out); it has recorded why.</summary>
    public bool Ended { get; private set; }

    public HandshakeRefusal Refusal { get; private set; }

    /// <summary>The counter a refusal goes under.</summary>
    public ConnectionFailure Failure => Refusal is HandshakeRefusal.NotAHello or HandshakeRefusal.OwnIdent or HandshakeRefusal.NotTheDialledIdent
        ? ConnectionFailure.BadHello
        : ConnectionFailure.AuthFailed;

    /// <summary>The peer's hello, once it passed <see cref="Handshake.ParseHello"/>.</summary>
    public PeerHello? Hello { get; set; }

    /// <summary>Why the first frame is not a usable hello.</summary>
    public string? Problem { get; set; }

    /// <summary>What came instead of a proof.</summary>
    public string? AuthFrameType { get; set; }

    public int AuthFrameLength { get; set; }

    /// <summary>The frame limit agreed: the smaller of both sides' maximum.</summary>
    public int MaxFrameSize { get; set; }

    public HandshakeResult Refuse(HandshakeRefusal refusal)
    {
        Refusal = refusal;
        return this;
    }

    public HandshakeResult End()
    {
        Ended = true;
        return this;
    }
}
