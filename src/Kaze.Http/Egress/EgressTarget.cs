using Kaze.Protocol;
using Microsoft.AspNetCore.Http;

namespace Kaze.Http.Egress;

/// <summary>Where one request through the loopback port goes: the node, and the path on its app. Set as a feature of the request.</summary>
/// <param name="Node">The destination node; 0.0.0.0 for this node's own app.</param>
/// <param name="Segment">The first path segment as given (the ident), for X-Forwarded-Prefix; null when the node came in a <c>Kaze-Node</c> header.</param>
/// <param name="Rest">The path after the segment ("/" at least).</param>
/// <param name="Version">The client's HTTP version, as <c>:version</c> carries it.</param>
internal sealed record EgressTarget(Ident Node, string? Segment, PathString Rest, string Version)
{
    /// <summary>The request header that names the destination instead of the path (gRPC clients cannot put a prefix before their paths).</summary>
    public const string NodeHeader = "Kaze-Node";

    /// <summary>
    /// The destination from a <c>Kaze-Node</c> header (the path is then the app's, whole), else from
    /// "/&lt;ident&gt;/&lt;path…&gt;"; null and a reason when neither names a valid node.
    /// </summary>
    public static EgressTarget? Parse(PathString path, string? nodeHeader, string version, out string? problem)
    {
        string value = path.Value ?? "";
        problem = null;
        if (nodeHeader is not null)
        {
            if (!Ident.TryParse(nodeHeader, out Ident named, out string? headerError))
            {
                problem = $"{NodeHeader}: '{Protocol.HttpFields.Printable(nodeHeader)}' is not a node ({headerError})";
                return null;
            }

            return new EgressTarget(named, null, value.Length == 0 ? new PathString("/") : path, version);
        }

        if (value.Length < 2 || value[0] != '/')
        {
            problem = $"the path must start with the destination, /<ident>/<path> (e.g. /0.0.0.2/index.html), or the request must name it in a {NodeHeader} header";
            return null;
        }

        int end = value.IndexOf('/', 1);
        string segment = end < 0 ? value[1..] : value[1..end];
        if (!Ident.TryParse(segment, out Ident node, out string? error))
        {
            problem = $"'{Protocol.HttpFields.Printable(segment)}' is not a node: the path must start with /<ident>/, e.g. /0.0.0.2/index.html ({error})";
            return null;
        }

        return new EgressTarget(node, segment, end < 0 ? new PathString("/") : new PathString(value[end..]), version);
    }
}
