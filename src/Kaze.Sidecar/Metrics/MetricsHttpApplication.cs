using System.Text;
using Kaze.Sidecar.Health;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// The whole HTTP application Kestrel runs: GET (or HEAD) /metrics answers a scrape in the
/// Prometheus text format, /healthz says the process is alive, /readyz whether the sidecar is
/// ready (200, or 503 with what is missing); anything else is 404 or 405. No routing, middleware or second service
/// container: a raw <see cref="IHttpApplication{TContext}"/> over Kestrel's request features keeps
/// the start-up cost of the endpoint small.
/// </summary>
internal sealed class MetricsHttpApplication(ScrapeExporter exporter, SidecarReadiness? readiness) : IHttpApplication<IFeatureCollection>
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    /// <summary>Liveness: 200 while the process answers.</summary>
    public const string HealthPath = "/healthz";

    /// <summary>Readiness: 200 when every check is ready, else 503.</summary>
    public const string ReadyPath = "/readyz";

    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(5);

    public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

    public async Task ProcessRequestAsync(IFeatureCollection context)
    {
        IHttpRequestFeature request = context.GetRequiredFeature<IHttpRequestFeature>();
        IHttpResponseFeature response = context.GetRequiredFeature<IHttpResponseFeature>();
        IHttpResponseBodyFeature body = context.GetRequiredFeature<IHttpResponseBodyFeature>();
        string path = request.PathBase + request.Path;
        bool known = path is Path or HealthPath || (path == ReadyPath && readiness is not null);
        if (!known)
        {
            await AnswerAsync(response, body, StatusCodes.Status404NotFound, "Not found: metrics are at " + Path + ", liveness at " + HealthPath + ", readiness at " + ReadyPath + "\n", head: false).ConfigureAwait(false);
            return;
        }

        bool head = HttpMethods.IsHead(request.Method);
        if (!head && !HttpMethods.IsGet(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await AnswerAsync(response, body, StatusCodes.Status405MethodNotAllowed, "Use GET.\n", head: false).ConfigureAwait(false);
            return;
        }

        if (path == HealthPath)
        {
            await WriteAsync(response, body, StatusCodes.Status200OK, HealthJson.ContentType, HealthJson.Alive(), head).ConfigureAwait(false);
            return;
        }

        if (path == ReadyPath)
        {
            ReadinessReport report = readiness!.Evaluate();
            int status = report.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            await WriteAsync(response, body, status, HealthJson.ContentType, HealthJson.Ready(report), head).ConfigureAwait(false);
            return;
        }

        string? text = exporter.Scrape(ScrapeTimeout);
        if (text is null)
        {
            await AnswerAsync(response, body, StatusCodes.Status503ServiceUnavailable, "Metrics could not be collected.\n", head).ConfigureAwait(false);
            return;
        }

        await WriteAsync(response, body, StatusCodes.Status200OK, PrometheusText.ContentType, Encoding.UTF8.GetBytes(text), head).ConfigureAwait(false);
    }

    public void DisposeContext(IFeatureCollection context, Exception? exception)
    {
    }

    private static Task AnswerAsync(IHttpResponseFeature response, IHttpResponseBodyFeature body, int status, string message, bool head) =>
        WriteAsync(response, body, status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(message), head);

    private static async Task WriteAsync(IHttpResponseFeature response, IHttpResponseBodyFeature body, int status, string contentType, byte[] bytes, bool head)
    {
        response.StatusCode = status;
        response.Headers.ContentType = contentType;
        response.Headers.ContentLength = bytes.Length;
        if (!head)
        {
            await body.Writer.WriteAsync(bytes).ConfigureAwait(false);
        }
    }
}
