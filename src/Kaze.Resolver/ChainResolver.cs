using System.Runtime.ExceptionServices;
using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>
/// Asks several resolvers in order: the first address found wins, and matches are the union of
/// every resolver's, in order, each ident once.
/// </summary>
/// <remarks>
/// <para>
/// A lookup stops at the first resolver that knows the node; later ones are not asked. When every
/// resolver answers synchronously (e.g. a <see cref="Static.StaticResolver"/> or a warm
/// <see cref="Caching.CachingResolver"/>), the chain does too, and a hit allocates nothing.
/// </para>
/// <para>
/// A resolver that throws is skipped: the chain is a fallback. Its failure reaches the caller only
/// if no other resolver had an answer (no address; an empty union). One failure is rethrown as is,
/// several as an <see cref="AggregateException"/>. Wrap a network resolver in a
/// <see cref="Caching.CachingResolver"/>, which logs its failures.
/// </para>
/// </remarks>
public sealed class ChainResolver : IResolver, INameResolver
{
    private readonly IResolver[] _resolvers;

    /// <summary>Creates a chain asking <paramref name="resolvers"/> in the order given.</summary>
    /// <param name="resolvers">At least one resolver.</param>
    public ChainResolver(IEnumerable<IResolver> resolvers)
    {
        ArgumentNullException.ThrowIfNull(resolvers);
        _resolvers = [.. resolvers];
        if (_resolvers.Length == 0)
        {
            throw new ArgumentException("A chain needs at least one resolver.", nameof(resolvers));
        }

        if (Array.IndexOf(_resolvers, null) >= 0)
        {
            throw new ArgumentException("A chain cannot hold a null resolver.", nameof(resolvers));
        }
    }

    /// <summary>Creates a chain asking <paramref name="resolvers"/> in the order given.</summary>
    /// <param name="resolvers">At least one resolver.</param>
    public ChainResolver(params IResolver[] resolvers)
        : this((IEnumerable<IResolver>)resolvers)
    {
    }

    /// <summary>The resolvers, in the order they are asked.</summary>
    public IReadOnlyList<IResolver> Resolvers => _resolvers;

    /// <inheritdoc/>
    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default)
    {
        // Synchronous while the answers are: no state machine, no allocation.
        for (int i = 0; i < _resolvers.Length; i++)
        {
            ValueTask<NodeAddress?> pending;
            try
            {
                pending = _resolvers[i].ResolveAsync(ident, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return ResolveAfterFailureAsync(ident, i, exception, cancellationToken);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return ResolveSlowAsync(ident, i, pending, cancellationToken);
            }

            if (pending.Result is NodeAddress address)
            {
                return new ValueTask<NodeAddress?>(address);
            }
        }

        return default;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// If only one resolver has matches, its list is returned as is; otherwise a new list holds the
    /// first resolver's idents in its order, then the second's not seen yet, and so on.
    /// </remarks>
    public async ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<Ident>? only = null;
        List<Ident>? union = null;
        HashSet<Ident>? seen = null;
        List<Exception>? failures = null;
        foreach (IResolver resolver in _resolvers)
        {
            IReadOnlyList<Ident> found;
            try
            {
                found = await resolver.MatchAsync(ident, mask, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                (failures ??= []).Add(exception);
                continue;
            }

            if (found.Count == 0)
            {
                continue;
            }

            if (only is null && union is null)
            {
                only = found;
                continue;
            }

            if (union is null)
            {
                union = [.. only!];
                seen = [.. only!];
                only = null;
            }

            foreach (Ident candidate in found)
            {
                if (seen!.Add(candidate))
                {
                    union.Add(candidate);
                }
            }
        }

        IReadOnlyList<Ident>? result = (IReadOnlyList<Ident>?)union?.AsReadOnly() ?? only;
        if (result is not null)
        {
            return result;
        }

        if (failures is not null)
        {
            ThrowFailures(failures);
        }

        return [];
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The union of the members every resolver that resolves names (<see cref="INameResolver"/>) gives,
    /// by ascending ident. When only one of them knows the name, its list is returned as is and
    /// nothing is allocated; a name known to several is merged into a new list on each call.
    /// </remarks>
    public IReadOnlyList<Ident> ResolveName(string name)
    {
        IReadOnlyList<Ident>? only = null;
        List<Ident>? union = null;
        foreach (IResolver resolver in _resolvers)
        {
            if (resolver is not INameResolver names)
            {
                continue;
            }

            IReadOnlyList<Ident> members = names.ResolveName(name);
            if (members.Count == 0)
            {
                continue;
            }

            if (only is null && union is null)
            {
                only = members;
                continue;
            }

            union ??= [.. only!];
            foreach (Ident member in members)
            {
                if (!union.Contains(member))
                {
                    union.Add(member);
                }
            }
        }

        if (union is null)
        {
            return only ?? [];
        }

        union.Sort(static (a, b) => a.Value.CompareTo(b.Value));
        return union.AsReadOnly();
    }

    private async ValueTask<NodeAddress?> ResolveSlowAsync(Ident ident, int index, ValueTask<NodeAddress?> pending, CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        for (int i = index; i < _resolvers.Length; i++)
        {
            try
            {
                NodeAddress? address = await (i == index ? pending : _resolvers[i].ResolveAsync(ident, cancellationToken)).ConfigureAwait(false);
                if (address is not null)
                {
                    return address;
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                (failures ??= []).Add(exception);
            }
        }

        if (failures is not null)
        {
            ThrowFailures(failures);
        }

        return null;
    }

    private ValueTask<NodeAddress?> ResolveAfterFailureAsync(Ident ident, int index, Exception exception, CancellationToken cancellationToken) =>
        ResolveSlowAsync(ident, index, ValueTask.FromException<NodeAddress?>(exception), cancellationToken);

    private static void ThrowFailures(List<Exception> failures)
    {
        if (failures.Count == 1)
        {
            ExceptionDispatchInfo.Throw(failures[0]);
        }

        throw new AggregateException("Every resolver that could have answered failed.", failures);
    }
}
