namespace Kaze.Protocol;

/// <summary>The protocol version a sender writes into <see cref="Hdr.Version"/>.</summary>
/// <remarks>
/// The version names the whole wire contract: the header's fields, the ring and TCP framing, and the
/// meaning of <see cref="RetCode"/> values. Bump it only together with a note in docs/.
/// </remarks>
public static class ProtocolVersion
{
    /// <summary>Written by upstream starwing/kaze, which never sets the field.</summary>
    public const uint Unversioned = 0;

    /// <summary>The version this library writes.</summary>
    public const uint Current = 1;
}
