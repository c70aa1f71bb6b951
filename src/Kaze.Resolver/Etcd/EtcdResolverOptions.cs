namespace Kaze.Resolver.Etcd;

/// <summary>Where etcd is, and where in its key space Kaze keeps nodes.</summary>
/// <remarks>
/// Defaults: <see cref="Endpoints"/> empty, meaning <see cref="DefaultEndpoint"/> (http://127.0.0.1:2379);
/// <see cref="Prefix"/> "/kaze"; <see cref="RequestTimeout"/> 5 s. <see cref="Validate"/> lists every problem.
/// </remarks>
public sealed class EtcdResolverOptions
{
    /// <summary>The endpoint used when <see cref="Endpoints"/> is empty: a local etcd on its usual client port.</summary>
    public static readonly Uri DefaultEndpoint = new("http://127.0.0.1:2379");

    /// <summary>
    /// Client URLs of the etcd members, e.g. http://10.0.0.1:2379. Empty (the default) means
    /// <see cref="DefaultEndpoint"/>. A request goes to the member that answered last; one that cannot
    /// be reached or does not answer in time is skipped for the next.
    /// </summary>
    /// <remarks>Empty by default so that a list bound from configuration replaces it rather than adding to it.</remarks>
    public IList<Uri> Endpoints { get; set; } = [];

    /// <summary>
    /// The key prefix; a node lives at <c>&lt;Prefix&gt;/nodes/&lt;dotted ident&gt;</c> with the value
    /// "HOST:PORT". Default "/kaze"; a trailing '/' is ignored.
    /// </summary>
    public string Prefix { get; set; } = "/kaze";

    /// <summary>How long one request to one member may take, connecting included. Default 5 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Every problem with these options, one sentence each; empty if they are usable.</summary>
    /// <returns>The problems.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (Uri? endpoint in Endpoints ?? [])
        {
            if (endpoint is null || !endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"Endpoints: '{endpoint}' is not an http:// or https:// URL of an etcd member, e.g. http://127.0.0.1:2379");
            }
            else if (!string.IsNullOrEmpty(endpoint.Query) || !string.IsNullOrEmpty(endpoint.Fragment))
            {
                errors.Add($"Endpoints: '{endpoint}' has a query or fragment; give the client URL only");
            }
        }

        if (Prefix is null)
        {
            errors.Add("Prefix is null; use \"\" for the root of the key space");
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"RequestTimeout is {RequestTimeout}; it must be positive and at most 10 minutes");
        }

        return errors;
    }
}
