using Kaze.Service;

namespace Kaze.Http.Protocol;

/// <summary>The body types of HTTP over the mesh (docs/http.md).</summary>
public static class HttpBodyTypes
{
    /// <summary>
    /// One HTTP exchange in one request and one response packet: what a host (Kaze.Host or any
    /// other) sends to reach the HTTP app behind a node, and what that node answers.
    /// </summary>
    public const string Http = "http";

    /// <summary>The head of a streamed exchange between two gateways: a request (its <c>req</c> is the exchange's id).</summary>
    public const string Request = "kaze.http.req";

    /// <summary>The response head of a streamed exchange: the response to <see cref="Request"/>.</summary>
    public const string Response = "kaze.http.rsp";

    /// <summary>A notify from the calling gateway to the called one: request body, end, trailers, credit, reset.</summary>
    public const string Up = "kaze.http.up";

    /// <summary>A notify from the called gateway to the calling one: response body, end, trailers, credit, reset.</summary>
    public const string Down = "kaze.http.down";

    /// <summary>
    /// How the node hands these body types to the gateway: <see cref="Http"/> and
    /// <see cref="Request"/> through the pipeline (rate limits and plugins see each exchange once),
    /// the packets of an exchange under way straight to it, in order.
    /// </summary>
    public static EndpointClaim Claim(string bodyType)
    {
        // The node asks for every packet it delivers: length first, then the few candidates.
        switch (bodyType.Length)
        {
            case 4:
                return bodyType == Http ? EndpointClaim.Routed : EndpointClaim.None;
            case 13:
                return bodyType == Request ? EndpointClaim.Routed
                    : bodyType == Response ? EndpointClaim.Direct
                    : EndpointClaim.None;
            case 12:
                return bodyType == Up ? EndpointClaim.Direct : EndpointClaim.None;
            case 14:
                return bodyType == Down ? EndpointClaim.Direct : EndpointClaim.None;
            default:
                return EndpointClaim.None;
        }
    }
}
