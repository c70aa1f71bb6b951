using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// The whole HTTP application Kestrel runs: GET (or HEAD) /metrics answers a scrape in the
/// Prometheus text format; anything else is 404 or 405. No routing, middleware or second service
/// container: a raw <see cref="IHttpApplication{TContext}"/> over Kestrel's request features keeps
/// the start-up cost of the endpoint small.
/// </summary>
internal sealed class MetricsHttpApplication(ScrapeExporter exporter) : IHttpApplication<IFeatureCollection>
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(5);

    public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

    public async Task ProcessRequestAsync(IFeatureCollection context)
    {
        IHttpRequestFeature request = context.GetRequiredFeature<IHttpRequestFeature>();
        IHttpResponseFeature response = context.GetRequiredFeature<IHttpResponseFeature>();
        IHttpResponseBodyFeature body = context.GetRequiredFeature<IHttpResponseBodyFeature>();
        if (!string.Equals(request.PathBase + request.Path, Path, StringComparison.Ordinal))
        {
            await AnswerAsync(response, body, StatusCodes.Status404NotFound, "Not found: metrics are at " + Path + "\n", head: false).ConfigureAwait(false);
            return;
        }

        bool head = HttpMethods.IsHead(request.Method);
        if (!head && !HttpMethods.IsGet(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await AnswerAsync(response, body, StatusCodes.Status405MethodNotAllowed, "Use GET.\n", head: false).ConfigureAwait(false);
            return;
        }

        string? text = exporter.Scrape(ScrapeTimeout);
        if (text is null)
        {
            await AnswerAsync(response, body, StatusCodes.Status503ServiceUnavailable, "Metrics could not be collected.\n", head).ConfigureAwait(false);
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = PrometheusText.ContentType;
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        response.Headers.ContentLength = bytes.Length;
        if (!head)
        {
            await body.Writer.WriteAsync(bytes).ConfigureAwait(false);
        }
    }

    public void DisposeContext(IFeatureCollection context, Exception? exception)
    {
    }

    private static async Task AnswerAsync(IHttpResponseFeature response, IHttpResponseBodyFeature body, int status, string message, bool head)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(message);
        response.StatusCode = status;
        response.Headers.ContentType = "text/plain; charset=utf-8";
        response.Headers.ContentLength = bytes.Length;
        if (!head)
        {
            await body.Writer.WriteAsync(bytes).ConfigureAwait(false);
        }
    }
}
