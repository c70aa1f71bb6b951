using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http.Egress;

/// <summary>
/// The loopback port's request transform: YARP's copy of the fields (hop-by-hop ones dropped),
/// the destination segment taken off the path, the client's Host dropped (the app's own address
/// is its Host), and the X-Forwarded-* fields a reverse proxy adds.
/// </summary>
internal sealed class EgressTransformer : HttpTransformer
{
    /// <summary>Where the request goes, for <see cref="MeshHttpHandler"/>.</summary>
    public static readonly HttpRequestOptionsKey<EgressTarget> TargetKey = new("kaze.target");

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        EgressTarget target = httpContext.Features.Get<EgressTarget>()!;
        HttpRequest request = httpContext.Request;
        proxyRequest.Headers.Host = null;
        string client = httpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        string forwardedFor = request.Headers.TryGetValue("X-Forwarded-For", out var earlier) && earlier.Count > 0
            ? string.Join(", ", earlier.ToArray()) + ", " + client
            : client;
        proxyRequest.Headers.Remove("X-Forwarded-For");
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        Set(proxyRequest, "X-Forwarded-Proto", request.Scheme);
        if (request.Host.HasValue)
        {
            Set(proxyRequest, "X-Forwarded-Host", request.Host.ToUriComponent());
        }

        if (target.Segment is not null)
        {
            Set(proxyRequest, "X-Forwarded-Prefix", "/" + target.Segment);
        }

        proxyRequest.Headers.Remove(EgressTarget.NodeHeader);
        proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress("http://kaze.mesh", target.Rest, request.QueryString);
        proxyRequest.Options.Set(TargetKey, target);
    }

    private static void Set(HttpRequestMessage request, string name, string value)
    {
        request.Headers.Remove(name);
        request.Headers.TryAddWithoutValidation(name, value);
    }
}
