using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>An HTTP handler that answers from a function and records every request (URI and body).</summary>
internal sealed class StubHttpHandler(Func<HttpRequestMessage, string, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
{
    public ConcurrentQueue<(Uri Uri, string Body)> Requests { get; } = new();

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        Requests.Enqueue((request.RequestUri!, body));
        return await respond(request, body, cancellationToken);
    }
}
