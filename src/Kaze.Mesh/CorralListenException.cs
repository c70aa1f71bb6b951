using Kaze.Resolver;

namespace Kaze.Mesh;

/// <summary>The corral could not listen on its address (in use, not local, not permitted).</summary>
public sealed class CorralListenException : IOException
{
    /// <summary>Creates the exception for <paramref name="address"/>.</summary>
    /// <param name="address">The address that could not be bound.</param>
    /// <param name="reason">Why, e.g. "Address already in use".</param>
    /// <param name="inner">The socket error, if any.</param>
    public CorralListenException(NodeAddress address, string reason, Exception? inner = null)
        : base($"Cannot listen for other sidecars on {address}: {reason}. Choose another address with --listen HOST:PORT.", inner)
    {
        Address = address;
    }

    /// <summary>The address that could not be bound.</summary>
    public NodeAddress Address { get; }
}
