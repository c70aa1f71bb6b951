namespace Kaze.Protocol;

/// <summary>
/// The outcome carried by a response in <see cref="Hdr.RetCode"/> (a plain uint32 on the wire).
/// </summary>
/// <remarks>
/// 0-2 are upstream's (<c>RET_OK</c>, <c>RET_UNREACHABLE</c>, <c>RET_TIMEOUT</c> in starwing/kaze);
/// Kaze.NET adds new codes after those, never in between. A receiver must accept values it does not
/// know: they arrive as uint and are simply not named here.
/// </remarks>
public enum RetCode : uint
{
    /// <summary>The request succeeded; the body is the answer.</summary>
    Ok = 0,

    /// <summary>No route to the destination: no node matched, or the matching node could not be reached.</summary>
    Unreachable = 1,

    /// <summary>No response arrived within the request's timeout.</summary>
    Timeout = 2,

    /// <summary>A limit was hit (e.g. a rate limit or a full queue); the request was not delivered.</summary>
    ResourceExhausted = 3,

    /// <summary>The destination host has no handler for the request's body type.</summary>
    NoHandler = 4,

    /// <summary>The destination host's handler failed (threw) on the request.</summary>
    HandlerFailed = 5,
}
