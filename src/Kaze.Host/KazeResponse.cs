using System.Collections.ObjectModel;
using Google.Protobuf;
using Kaze.Protocol;

namespace Kaze.Host;

/// <summary>The outcome of <c>KazeClient.CallAsync</c> (either overload): the callee's response, or a failure decided locally.</summary>
/// <remarks>
/// Failures are values: <see cref="RetCode.Timeout"/> when no response arrived in time,
/// <see cref="RetCode.Unreachable"/> when the sidecar (or a node behind it) could not deliver the
/// request, or when the channel to the sidecar ended while the call waited. A response decided
/// here has <see cref="IsLocal"/> set and no body.
/// </remarks>
public readonly struct KazeResponse
{
    private static readonly IReadOnlyDictionary<string, ByteString> NoHeaders = ReadOnlyDictionary<string, ByteString>.Empty;

    private readonly IReadOnlyDictionary<string, ByteString>? _headers;
    private readonly string? _bodyType;

    internal KazeResponse(RetCode code, ReadOnlyMemory<byte> body, string bodyType, IReadOnlyDictionary<string, ByteString>? headers, Ident source, bool isLocal)
    {
        Code = code;
        Body = body;
        _bodyType = bodyType;
        _headers = headers;
        Source = source;
        IsLocal = isLocal;
    }

    /// <summary>The outcome; values this library does not name are kept as numbers.</summary>
    public RetCode Code { get; }

    /// <summary>Whether <see cref="Code"/> is <see cref="RetCode.Ok"/>.</summary>
    public bool IsOk => Code == RetCode.Ok;

    /// <summary>The response's body; owned by the caller.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>What the body is; empty for none.</summary>
    public string BodyType => _bodyType ?? "";

    /// <summary>The response's headers; empty for none.</summary>
    public IReadOnlyDictionary<string, ByteString> Headers => _headers ?? NoHeaders;

    /// <summary>The node that answered, as its sidecar stamped it; <see cref="Ident.Any"/> when <see cref="IsLocal"/>.</summary>
    public Ident Source { get; }

    /// <summary>True when this client decided the outcome (timeout, channel gone) and no response arrived.</summary>
    public bool IsLocal { get; }

    internal static KazeResponse Local(RetCode code) => new(code, ReadOnlyMemory<byte>.Empty, "", null, Ident.Any, isLocal: true);

    /// <summary>A one-line description for logs, e.g. "Timeout (local)".</summary>
    /// <returns>The description.</returns>
    public override string ToString() => IsLocal ? $"{Code} (local)" : $"{Code} from {Source}, {Body.Length} bytes";
}
