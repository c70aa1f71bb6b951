using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Kaze.Protocol;

namespace Kaze.Sidecar.Corral;

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

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");
}

/// <summary>What a peer said in its hello.</summary>
internal sealed record PeerHello(Ident Ident, uint Version, int MaxFrameSize, byte[] Nonce, string? AuthScheme);
