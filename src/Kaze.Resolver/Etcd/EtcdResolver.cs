using System.Collections.ObjectModel;
using System.Text;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// Finds nodes in etcd (v3.4 or later) through its JSON gateway, and announces this sidecar's node
/// there under a lease so that it disappears when the sidecar dies.
/// </summary>
/// <remarks>
/// <para>
/// A node is the key <c>&lt;prefix&gt;/nodes/&lt;dotted ident&gt;</c> (e.g. /kaze/nodes/0.0.0.1) whose value
/// is "HOST:PORT". Every call goes to etcd: put a <see cref="Caching.CachingResolver"/> in front of it
/// on the routing path.
/// </para>
/// <para>
/// Failures throw <see cref="RegistryUnavailableException"/>, naming the endpoint(s): etcd unreachable,
/// no answer within <see cref="EtcdResolverOptions.RequestTimeout"/>, an error answer, or a server that
/// is not etcd's gateway. A node key whose value is not an address throws <see cref="ResolverException"/>.
/// </para>
/// <para>
/// <see cref="DisposeAsync"/> deregisters every node registered here. A process that dies without it
/// leaves its keys until their lease expires, one TTL after the last renewal.
/// </para>
/// </remarks>
public sealed class EtcdResolver : IResolver, IAsyncDisposable
{
    private static readonly ReadOnlyCollection<Ident> NoIdents = ReadOnlyCollection<Ident>.Empty;

    private readonly EtcdClient _client;
    private readonly EtcdKeys _keys;
    private readonly EtcdRegistrar _registrar;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    // Idents registered by this resolver; read and written only while holding _registering.
    private readonly Dictionary<Ident, EtcdRegistration> _registrations = [];

    // One registration change at a time; they are rare and each is a few requests.
    private readonly SemaphoreSlim _registering = new(1, 1);

    // 1 once DisposeAsync has started.
    private int _disposed;

    /// <summary>Creates a resolver with its own HTTP connection pool.</summary>
    /// <param name="options">Endpoints, prefix and timeout; throws <see cref="ArgumentException"/> listing every problem.</param>
    /// <param name="logger">Where registration events and renewal failures are reported.</param>
    /// <param name="timeProvider">The clock of the renewal loops; <see cref="TimeProvider.System"/> if null.</param>
    public EtcdResolver(EtcdResolverOptions options, ILogger<EtcdResolver>? logger = null, TimeProvider? timeProvider = null)
        : this(options, CreateHandler(Validated(options)), disposeHandler: true, logger, timeProvider)
    {
    }

    internal EtcdResolver(EtcdResolverOptions options, HttpMessageHandler handler, bool disposeHandler, ILogger? logger, TimeProvider? timeProvider)
    {
        Validated(options);
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        IReadOnlyList<Uri> endpoints = options.Endpoints.Count == 0 ? [EtcdResolverOptions.DefaultEndpoint] : [.. options.Endpoints];
        _client = new EtcdClient(handler, disposeHandler, endpoints, options.RequestTimeout, _logger);
        _keys = new EtcdKeys(options.Prefix);
        _registrar = new EtcdRegistrar(_client, _keys, _logger);
    }

    /// <summary>The etcd client URLs in use.</summary>
    public IReadOnlyList<Uri> Endpoints => _client.Endpoints;

    /// <summary>The prefix every node key starts with, e.g. "/kaze/nodes/".</summary>
    public string NodesPrefix => _keys.NodesPrefix;

    /// <inheritdoc/>
    public async ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default)
    {
        string key = _keys.NodeKey(ident);
        RangeResponse range = await _client.RangeAsync(new RangeRequest { Key = Encoding.UTF8.GetBytes(key) }, cancellationToken).ConfigureAwait(false);
        if (range.Kvs is not { Count: > 0 } kvs)
        {
            return null;
        }

        string value = Encoding.UTF8.GetString(kvs[0].Value ?? []);
        if (!NodeAddress.TryParse(value, out NodeAddress? address, out string error))
        {
            throw new ResolverException($"etcd key {key} (at {string.Join(", ", Endpoints)}) holds '{value}', which is not a node address: {error}");
        }

        return address;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One range request over the keys the selector can match (narrowed by the whole leading octets
    /// of the mask); keys that are not canonical dotted idents are ignored.
    /// </remarks>
    public async ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default)
    {
        if (new MatchKey(ident, mask).IsUnsatisfiable)
        {
            return NoIdents;
        }

        byte[] prefix = Encoding.UTF8.GetBytes(_keys.MatchPrefix(ident, mask));
        RangeResponse range = await _client.RangeAsync(
            new RangeRequest { Key = prefix, RangeEnd = EtcdKeys.PrefixRangeEnd(prefix), KeysOnly = true },
            cancellationToken).ConfigureAwait(false);

        var found = new List<Ident>(range.Kvs?.Count ?? 0);
        foreach (KeyValue kv in range.Kvs ?? [])
        {
            string key = Encoding.UTF8.GetString(kv.Key ?? []);
            if (!_keys.TryParseNodeKey(key, out Ident node))
            {
                EtcdLog.ForeignKey(_logger, key, _keys.NodesPrefix);
                continue;
            }

            if (node.Matches(ident, mask))
            {
                found.Add(node);
            }
        }

        if (found.Count == 0)
        {
            return NoIdents;
        }

        // etcd orders by key bytes ("0.0.0.10" before "0.0.0.2"); the contract's stable order is by ident.
        found.Sort(static (a, b) => a.Value.CompareTo(b.Value));
        return found.AsReadOnly();
    }

    /// <summary>
    /// Announces that <paramref name="ident"/>'s sidecar listens at <paramref name="address"/>, under a
    /// lease of <paramref name="ttl"/> renewed in the background every third of it until
    /// <see cref="DeregisterAsync"/> or <see cref="DisposeAsync"/>.
    /// </summary>
    /// <param name="ident">The node; not 0.0.0.0.</param>
    /// <param name="address">Where its sidecar listens, as other sidecars should dial it.</param>
    /// <param name="ttl">
    /// How long the key outlives the last renewal: how soon peers stop seeing a node that died.
    /// Whole seconds, rounded up, 1 s to 1 day; etcd raises it to its own minimum (2 s by default).
    /// </param>
    /// <param name="cancellationToken">Cancels the registration requests (not the renewals that follow).</param>
    /// <returns>When the key is written.</returns>
    /// <exception cref="ResolverException">Another address holds <paramref name="ident"/> in etcd.</exception>
    /// <exception cref="RegistryUnavailableException">etcd could not be reached or refused.</exception>
    /// <remarks>
    /// Registering an ident again (here) replaces the earlier registration. A key with the same
    /// address under another lease, left by this node before a restart, is taken over.
    /// </remarks>
    public async Task RegisterAsync(Ident ident, NodeAddress address, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        if (ident == Ident.Any)
        {
            throw new ArgumentException("0.0.0.0 cannot be registered: as a destination it means the reader's own host.", nameof(ident));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, TimeSpan.FromDays(1));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _registering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_registrations.Remove(ident, out EtcdRegistration? earlier))
            {
                await StopAndRevokeAsync(earlier, cancellationToken).ConfigureAwait(false);
            }

            long ttlSeconds = (long)Math.Ceiling(ttl.TotalSeconds);
            EtcdRegistration registration = await EtcdRegistration.StartAsync(_registrar, ident, address, ttlSeconds, _logger, _time, cancellationToken).ConfigureAwait(false);
            _registrations.Add(ident, registration);
        }
        finally
        {
            _registering.Release();
        }
    }

    /// <summary>Stops renewing <paramref name="ident"/>'s registration and revokes its lease, which deletes its key.</summary>
    /// <param name="ident">A node registered with <see cref="RegisterAsync"/> on this resolver.</param>
    /// <param name="cancellationToken">Cancels the revocation request; the key then disappears when the lease expires.</param>
    /// <returns>True if this resolver had registered the node.</returns>
    public async Task<bool> DeregisterAsync(Ident ident, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _registering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_registrations.Remove(ident, out EtcdRegistration? registration))
            {
                return false;
            }

            await StopAndRevokeAsync(registration, cancellationToken).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _registering.Release();
        }
    }

    /// <summary>Deregisters every node registered here (failures are logged), then closes the connections.</summary>
    /// <returns>When done; each revocation is bounded by the request timeout.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _registering.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (EtcdRegistration registration in _registrations.Values)
            {
                try
                {
                    await StopAndRevokeAsync(registration, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    EtcdLog.DeregisterFailed(_logger, exception, registration.Ident, registration.LeaseId);
                }
            }

            _registrations.Clear();
        }
        finally
        {
            _registering.Release();
        }

        _client.Dispose();
    }

    /// <summary>The registration of <paramref name="ident"/> made here, if any (tests, diagnostics).</summary>
    internal EtcdRegistration? FindRegistration(Ident ident)
    {
        _registering.Wait();
        try
        {
            return _registrations.GetValueOrDefault(ident);
        }
        finally
        {
            _registering.Release();
        }
    }

    /// <summary>Stops every renewal without revoking anything, as if the process had died (tests).</summary>
    internal async Task AbandonRegistrationsAsync()
    {
        await _registering.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (EtcdRegistration registration in _registrations.Values)
            {
                await registration.StopAsync().ConfigureAwait(false);
            }

            _registrations.Clear();
        }
        finally
        {
            _registering.Release();
        }
    }

    private async Task StopAndRevokeAsync(EtcdRegistration registration, CancellationToken cancellationToken)
    {
        await registration.StopAsync().ConfigureAwait(false);
        bool revoked = await _client.RevokeLeaseAsync(registration.LeaseId, cancellationToken).ConfigureAwait(false);
        EtcdLog.Deregistered(_logger, registration.Ident, registration.LeaseId, revoked);
    }

    private static EtcdResolverOptions Validated(EtcdResolverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count != 0)
        {
            ThrowHelper.ThrowInvalidOptions(nameof(EtcdResolverOptions), errors);
        }

        return options;
    }

    private static SocketsHttpHandler CreateHandler(EtcdResolverOptions options) => new()
    {
        ConnectTimeout = options.RequestTimeout,

        // Re-resolve member host names now and then; etcd members get replaced.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    };
}
