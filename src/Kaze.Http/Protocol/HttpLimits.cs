namespace Kaze.Http.Protocol;

/// <summary>The fixed limits of HTTP over the mesh (docs/http.md, "Limits"); the settings (<see cref="HttpGatewayOptions"/>) add the rest.</summary>
internal static class HttpLimits
{
    /// <summary>Body bytes in one packet: a head's first bytes, or one kaze.http.up / down chunk. Far below any frame limit the corral allows by default (16 MiB).</summary>
    public const int ChunkSize = 64 * 1024;

    /// <summary>The HTTP fields of one head (or of trailers): names and values together, as Kestrel's default.</summary>
    public const int MaxFieldBytes = 32 * 1024;

    /// <summary>Field lines in one head or trailers (each value of a repeated field counts), as Kestrel's default header count.</summary>
    public const int MaxFieldLines = 100;

    /// <summary>Method and target of a request together.</summary>
    public const int MaxRequestLine = 8 * 1024;

    /// <summary>A reset's reason text, in bytes; longer is cut.</summary>
    public const int MaxResetReason = 200;

    /// <summary>The largest credit one packet may grant, and the largest window.</summary>
    public const int MaxCredit = 64 * 1024 * 1024;
}
