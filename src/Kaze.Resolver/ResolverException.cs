namespace Kaze.Resolver;

/// <summary>Base of the exceptions Kaze.Resolver throws: a resolver that could not give an answer.</summary>
/// <remarks>
/// "This resolver does not know the node" is not an exception: <see cref="IResolver.ResolveAsync"/>
/// returns null and <see cref="IResolver.MatchAsync"/> an empty list. An exception means the
/// question could not be answered (a registry that is down, data in it that is not an address, an
/// ident that another node holds).
/// </remarks>
public class ResolverException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, naming the resolver's source (endpoint, key).</param>
    /// <param name="inner">The cause, if any.</param>
    public ResolverException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// A registry could not be reached, did not answer in time, answered with an error, or is not the
/// kind of server expected. The message names the endpoint(s).
/// </summary>
public sealed class RegistryUnavailableException : ResolverException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed; names every endpoint that was tried.</param>
    /// <param name="endpoints">The endpoints that were tried.</param>
    /// <param name="inner">The cause, if any.</param>
    public RegistryUnavailableException(string message, IReadOnlyList<Uri> endpoints, Exception? inner = null)
        : base(message, inner)
    {
        Endpoints = endpoints;
    }

    /// <summary>The endpoints that were tried, in the order they were tried.</summary>
    public IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>
    /// The registry's own code for the error when it answered with one (etcd: the gRPC status code,
    /// e.g. 5 for "not found"); null when it could not be reached.
    /// </summary>
    public int? ErrorCode { get; init; }
}

/// <summary>
/// A registry already has the ident this node tried to register, held by a node that is alive (its
/// lease is being renewed). <see cref="Holder"/> says who: its address, names, pid and host.
/// </summary>
public sealed class IdentHeldException : ResolverException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the ident and the holder, and says what to do.</param>
    /// <param name="holder">The holder's entry as the registry has it.</param>
    /// <param name="holderPid">The holder's process id, if its entry says.</param>
    /// <param name="holderHost">The holder's machine, if its entry says.</param>
    public IdentHeldException(string message, NodeEntry holder, int? holderPid, string? holderHost)
        : base(message)
    {
        Holder = holder;
        HolderPid = holderPid;
        HolderHost = holderHost;
    }

    /// <summary>The holder's entry: ident, address, names.</summary>
    public NodeEntry Holder { get; }

    /// <summary>The holder's process id, if its entry says.</summary>
    public int? HolderPid { get; }

    /// <summary>The holder's machine (host name), if its entry says.</summary>
    public string? HolderHost { get; }
}
