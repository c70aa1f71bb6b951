using Kaze.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Resolver.Caching;

/// <summary>
/// Puts a time-limited memory in front of a slow resolver (a registry across the network):
/// answers are reused for a TTL ("not known" for a shorter one), concurrent lookups of one key make
/// one inner call, and while the inner resolver fails, earlier answers are served for a bounded time.
/// </summary>
/// <remarks>
/// <para>
/// A lookup whose answer is cached and fresh completes synchronously and allocates nothing. Lookups
/// (per ident) and matches (per ident and mask) are cached apart, with the same rules; an empty match
/// counts as "not known".
/// </para>
/// <para>
/// When the entry has expired, the caller waits for the inner resolver, so that a changed address is
/// seen as soon as the TTL ends. If the inner call fails and the entry expired less than
/// <see cref="CachingResolverOptions.MaxStaleness"/> ago, the old answer is returned, and served without
/// asking again for <see cref="CachingResolverOptions.FailureRetryInterval"/>. Otherwise the failure is
/// thrown to every caller that waited for that inner call. Failures are logged once per key per
/// <see cref="CachingResolverOptions.FailureLogInterval"/>.
/// </para>
/// <para>
/// The inner call is not cancelled when a caller's token is: other callers and the cache still want
/// its answer. Bound it in the inner resolver (its own request timeout).
/// </para>
/// </remarks>
public sealed class CachingResolver : IResolver
{
    private readonly TtlCache<Ident, NodeAddress?> _addresses;
    private readonly TtlCache<MatchKey, IReadOnlyList<Ident>> _matches;

    /// <summary>Creates the cache in front of <paramref name="inner"/>.</summary>
    /// <param name="inner">The resolver to ask on a miss; not disposed by this one.</param>
    /// <param name="options">TTLs and limits; defaults if null. Throws <see cref="ArgumentException"/> listing every problem.</param>
    /// <param name="logger">Where failures of <paramref name="inner"/> are reported.</param>
    /// <param name="timeProvider">The clock of the TTLs; <see cref="TimeProvider.System"/> if null.</param>
    public CachingResolver(
        IResolver inner,
        CachingResolverOptions? options = null,
        ILogger<CachingResolver>? logger = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        options ??= new CachingResolverOptions();
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count != 0)
        {
            ThrowHelper.ThrowInvalidOptions(nameof(CachingResolverOptions), errors);
        }

        Inner = inner;
        TimeProvider time = timeProvider ?? TimeProvider.System;
        ILogger log = logger ?? (ILogger)NullLogger.Instance;

        // The options are copied into the caches' fields: later changes to the object have no effect.
        _addresses = new TtlCache<Ident, NodeAddress?>(
            (ident, ct) => inner.ResolveAsync(ident, ct),
            static address => address is null,
            static ident => $"ident {ident}",
            options,
            time,
            log);
        _matches = new TtlCache<MatchKey, IReadOnlyList<Ident>>(
            (key, ct) => inner.MatchAsync(key.Ident, key.Mask, ct),
            static idents => idents.Count == 0,
            static key => $"match {key.Ident}/0x{key.Mask:x8}",
            options,
            time,
            log);
    }

    /// <summary>The resolver asked on a miss.</summary>
    public IResolver Inner { get; }

    /// <summary>How many idents have a cached answer (fresh or stale).</summary>
    internal int CachedAddressCount => _addresses.Count;

    /// <inheritdoc/>
    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default) =>
        _addresses.GetAsync(ident, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default)
    {
        var key = new MatchKey(ident, mask);
        return key.IsUnsatisfiable
            ? new ValueTask<IReadOnlyList<Ident>>(Array.Empty<Ident>())
            : _matches.GetAsync(key, cancellationToken);
    }
}
