namespace Kaze.Sidecar.Metrics;

/// <summary>The metrics endpoint could not listen on its address (in use, not local, not permitted, unknown host).</summary>
public sealed class MetricsListenException : IOException
{
    /// <summary>Creates the exception for <paramref name="address"/>.</summary>
    /// <param name="address">The address that could not be bound, as HOST:PORT.</param>
    /// <param name="reason">Why, e.g. "address already in use".</param>
    /// <param name="inner">The underlying error, if any.</param>
    public MetricsListenException(string address, string reason, Exception? inner = null)
        : base($"Cannot serve metrics on {address}: {reason}. Choose another address with --metrics HOST:PORT, or turn the endpoint off with --metrics off.", inner)
    {
        Address = address;
    }

    /// <summary>The address that could not be bound.</summary>
    public string Address { get; }
}
