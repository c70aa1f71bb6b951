namespace Kaze.Resolver.Etcd;

/// <summary>Where etcd is, how to reach it, and where in its key space Kaze keeps nodes.</summary>
/// <remarks>
/// Defaults: <see cref="Endpoints"/> empty, meaning <see cref="DefaultEndpoint"/> (http://127.0.0.1:2379);
/// <see cref="Prefix"/> "/kaze"; <see cref="Ttl"/> 10 s; <see cref="RequestTimeout"/> 5 s; no user, no
/// TLS files. <see cref="Validate"/> lists every problem.
/// </remarks>
public sealed class EtcdRegistryOptions
{
    /// <summary>The endpoint used when <see cref="Endpoints"/> is empty: a local etcd on its usual client port.</summary>
    public static readonly Uri DefaultEndpoint = new("http://127.0.0.1:2379");

    /// <summary>
    /// Client URLs of the etcd members, e.g. http://10.0.0.1:2379; all http:// or all https://.
    /// Empty (the default) means <see cref="DefaultEndpoint"/>. Requests are spread over the members
    /// that can be reached; one that cannot is skipped.
    /// </summary>
    /// <remarks>Empty by default so that a list bound from configuration replaces it rather than adding to it.</remarks>
    public IList<Uri> Endpoints { get; set; } = [];

    /// <summary>
    /// The key prefix; a node lives at <c>&lt;Prefix&gt;/nodes/&lt;dotted ident&gt;</c> (docs/discovery.md).
    /// Default "/kaze"; a trailing '/' is ignored.
    /// </summary>
    public string Prefix { get; set; } = "/kaze";

    /// <summary>
    /// The lease of this node's entry: how long the entry outlives the last renewal, i.e. how soon the
    /// others stop seeing a node that died. Renewed every third of it. Whole seconds, 2 s to 1 hour
    /// (etcd raises a shorter one to its own minimum). Default 10 s.
    /// </summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one request may take, connecting included. Default 5 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The etcd user, when etcd has authentication on; null for none. Needs <see cref="Password"/>.</summary>
    public string? Username { get; set; }

    /// <summary>The etcd user's password; null for none.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// A PEM file of the certificate authorities that sign etcd's server certificates (https endpoints);
    /// null to trust the system's store.
    /// </summary>
    public string? TrustedCaFile { get; set; }

    /// <summary>A PEM client certificate for etcd's client certificate authentication (https endpoints); needs <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>The PEM private key of <see cref="ClientCertificateFile"/>.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>The endpoints in use: <see cref="Endpoints"/>, or <see cref="DefaultEndpoint"/> when it is empty.</summary>
    public IReadOnlyList<Uri> EffectiveEndpoints => Endpoints is { Count: > 0 } given ? [.. given] : [DefaultEndpoint];

    /// <summary>Every problem with these options, one sentence each; empty if they are usable.</summary>
    /// <returns>The problems.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var schemes = new HashSet<string>(StringComparer.Ordinal);
        foreach (Uri? endpoint in Endpoints ?? [])
        {
            if (!IsEndpoint(endpoint, out string? error))
            {
                errors.Add($"Endpoints: {error}");
            }
            else
            {
                schemes.Add(endpoint!.Scheme);
            }
        }

        if (schemes.Count > 1)
        {
            errors.Add("Endpoints: mixes http:// and https:// URLs; every member is reached the same way");
        }

        if (Prefix is null)
        {
            errors.Add("Prefix is null; use \"\" for the root of the key space");
        }

        if (Ttl < TimeSpan.FromSeconds(2) || Ttl > TimeSpan.FromHours(1) || Ttl.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            errors.Add($"Ttl is {Ttl}; it must be whole seconds from 2 s to 1 hour");
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"RequestTimeout is {RequestTimeout}; it must be positive and at most 10 minutes");
        }

        if (string.IsNullOrEmpty(Username) != string.IsNullOrEmpty(Password))
        {
            errors.Add("Username and Password go together: give both or neither");
        }

        if (string.IsNullOrEmpty(ClientCertificateFile) != string.IsNullOrEmpty(ClientKeyFile))
        {
            errors.Add("ClientCertificateFile and ClientKeyFile go together: give both or neither");
        }

        foreach ((string name, string? path) in new[] { (nameof(TrustedCaFile), TrustedCaFile), (nameof(ClientCertificateFile), ClientCertificateFile), (nameof(ClientKeyFile), ClientKeyFile) })
        {
            if (!string.IsNullOrEmpty(path) && !File.Exists(path))
            {
                errors.Add($"{name}: '{path}' does not exist");
            }
        }

        bool tlsFiles = !string.IsNullOrEmpty(TrustedCaFile) || !string.IsNullOrEmpty(ClientCertificateFile);
        if (tlsFiles && !schemes.Contains(Uri.UriSchemeHttps))
        {
            errors.Add("TLS files are given, but no endpoint is an https:// URL");
        }

        return errors;
    }

    /// <summary>True if <paramref name="endpoint"/> is an http:// or https:// URL of an etcd member (scheme, host, port; no path, query or fragment).</summary>
    /// <param name="endpoint">The URL.</param>
    /// <param name="error">Why it is not one, quoting it.</param>
    /// <returns>True if usable.</returns>
    public static bool IsEndpoint(Uri? endpoint, out string? error)
    {
        if (endpoint is null || !endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(endpoint.Host))
        {
            error = $"'{endpoint}' is not an http:// or https:// URL of an etcd member, e.g. http://127.0.0.1:2379";
            return false;
        }

        if (endpoint.AbsolutePath != "/" || !string.IsNullOrEmpty(endpoint.Query) || !string.IsNullOrEmpty(endpoint.Fragment) || !string.IsNullOrEmpty(endpoint.UserInfo))
        {
            error = $"'{endpoint}' has more than a scheme, host and port; give the member's client URL only, e.g. http://127.0.0.1:2379";
            return false;
        }

        error = null;
        return true;
    }
}
