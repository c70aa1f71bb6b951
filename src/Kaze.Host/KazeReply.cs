using Google.Protobuf;
using Kaze.Protocol;

namespace Kaze.Host;

/// <summary>What a handler answers: sent back as the response to a request, discarded for a notify.</summary>
/// <remarks><c>default(KazeReply)</c> is an empty <see cref="RetCode.Ok"/> reply.</remarks>
public readonly struct KazeReply
{
    /// <summary>Creates a reply.</summary>
    /// <param name="code">The outcome.</param>
    /// <param name="body">The body; copied when the reply is sent, so it may be the request's body or pooled memory.</param>
    /// <param name="bodyType">What the body is; null or empty for none.</param>
    /// <param name="headers">Headers for the response, or null.</param>
    public KazeReply(RetCode code, ReadOnlyMemory<byte> body = default, string? bodyType = null, IReadOnlyDictionary<string, ByteString>? headers = null)
    {
        Code = code;
        Body = body;
        _bodyType = bodyType;
        Headers = headers;
    }

    private readonly string? _bodyType;

    /// <summary>The outcome.</summary>
    public RetCode Code { get; }

    /// <summary>The body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>What the body is; empty for none.</summary>
    public string BodyType => _bodyType ?? "";

    /// <summary>Headers for the response, or null.</summary>
    public IReadOnlyDictionary<string, ByteString>? Headers { get; }

    /// <summary>A successful reply carrying <paramref name="body"/>.</summary>
    /// <param name="body">The body.</param>
    /// <param name="bodyType">What the body is.</param>
    /// <returns>The reply.</returns>
    public static KazeReply Ok(ReadOnlyMemory<byte> body, string bodyType = "") => new(RetCode.Ok, body, bodyType);

    /// <summary>A failed reply with no body.</summary>
    /// <param name="code">The outcome.</param>
    /// <returns>The reply.</returns>
    public static KazeReply Error(RetCode code) => new(code);
}
