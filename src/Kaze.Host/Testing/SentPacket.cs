using Kaze.Protocol;

namespace Kaze.Host.Testing;

/// <summary>A packet the app under test sent, as its <see cref="InMemorySidecar"/> received it (source stamped).</summary>
public sealed class SentPacket
{
    internal SentPacket(Hdr header, byte[] body)
    {
        Header = header;
        Body = body;
    }

    /// <summary>The header, with srcIdent stamped by the sidecar.</summary>
    public Hdr Header { get; }

    /// <summary>The body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>What the body is.</summary>
    public string BodyType => Header.BodyType;

    /// <summary>Where it was sent (dstIdent); <see cref="Ident.Any"/> for other route kinds.</summary>
    public Ident Destination => new(Header.DstIdent);

    /// <summary>A request expecting a response.</summary>
    public bool IsRequest => Header.ExpectsResponse;

    /// <summary>A response to a request.</summary>
    public bool IsResponse => Header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp;

    /// <summary>A one-way packet.</summary>
    public bool IsNotify => !IsRequest && !IsResponse;

    /// <summary>The outcome, for a response.</summary>
    public RetCode Code => (RetCode)Header.RetCode;

    /// <summary>A one-line description for assertion messages.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        $"{(IsRequest ? "request" : IsResponse ? "response " + Code : "notify")} {BodyType} to {Destination}, {Body.Length} bytes";
}
