using Google.Protobuf;
using Kaze.Protocol;

namespace Kaze.Host;

/// <summary>A request or notify delivered to a handler.</summary>
/// <remarks>
/// <see cref="Body"/> is lent, not given: it is valid until the handler's <see cref="ValueTask{TResult}"/>
/// completes (and may be returned in the reply, e.g. by an echo handler). Copy it to keep it longer.
/// </remarks>
public readonly struct KazeRequest
{
    internal KazeRequest(Hdr header, ReadOnlyMemory<byte> body)
    {
        Header = header;
        Body = body;
    }

    /// <summary>The decoded header, for fields this type does not surface.</summary>
    public Hdr Header { get; }

    /// <summary>What the body is, e.g. "echo".</summary>
    public string BodyType => Header.BodyType;

    /// <summary>The sending node, as its sidecar stamped it.</summary>
    public Ident Source => new(Header.SrcIdent);

    /// <summary>The body; valid until the handler completes.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Headers the sender attached; passed through untouched.</summary>
    public IReadOnlyDictionary<string, ByteString> Headers => Header.Headers;

    /// <summary>Whether the sender waits for a response; false for a notify, whose reply is discarded.</summary>
    public bool ExpectsResponse => Header.ExpectsResponse;

    /// <summary>How long the sender waits for the response; zero for a notify.</summary>
    public TimeSpan Timeout => TimeSpan.FromMilliseconds(Header.Timeout);
}
