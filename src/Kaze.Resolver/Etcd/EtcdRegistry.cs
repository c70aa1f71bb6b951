using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Kaze.Core.Diagnostics;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Mvccpb;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// Service discovery on etcd: a local view of every node under the prefix, kept current by a watch,
/// and this node's own entry under a lease that is kept alive.
/// </summary>
/// <remarks>
/// <para>
/// <b>The view.</b> <see cref="StartAsync"/> reads every key under <c>&lt;prefix&gt;/nodes/</c> and
/// watches the prefix from the revision it read. <see cref="ResolveAsync"/>, <see cref="MatchAsync"/>
/// and <see cref="ResolveName"/> answer from the view (<see cref="View"/>, an immutable
/// <see cref="NodeTable"/> swapped whole): synchronously, without etcd on the call path, and a
/// lookup allocates nothing. A key that is not a node's (not a canonical dotted ident, a value that
/// is not an entry) is ignored, counted in <see cref="Status"/> and logged a few times a second at most.
/// </para>
/// <para>
/// <b>etcd out of reach.</b> The view stays as it was (<see cref="EtcdRegistryStatus.Reachable"/> false,
/// logged once); the watch and the lease retry with a backoff of 0.1 s doubling to 2 s. When etcd
/// answers again the view is read again whole, and the entry is renewed — or written again if its
/// lease ended meanwhile.
/// </para>
/// <para>
/// <b>Registration.</b> <see cref="RegisterAsync"/> writes this node's entry under a lease of
/// <see cref="EtcdRegistryOptions.Ttl"/>, renewed every third of it, if no other node holds the ident.
/// If one does, the registry watches the holder's lease for a third of its TTL plus 3 s: a holder
/// that renews it is alive, and <see cref="IdentHeldException"/> names it; one that does not (a sidecar
/// that died) is waited out until its lease ends (at most its TTL), then the entry is written.
/// <see cref="DisposeAsync"/> revokes the lease, so the entry goes at once; a process that dies leaves
/// it until the lease ends.
/// </para>
/// </remarks>
public sealed class EtcdRegistry : IResolver, INameResolver, IAsyncDisposable
{
    /// <summary>At most this many keys under the prefix are read; more are ignored and logged.</summary>
    public const int MaxNodes = 16384;

    private static readonly TimeSpan RetryMin = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RetryMax = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan HolderPoll = TimeSpan.FromMilliseconds(500);

    private readonly EtcdRegistryOptions _options;
    private readonly EtcdConnection _etcd;
    private readonly EtcdKeys _keys;
    private readonly ByteString _rangeStart;
    private readonly ByteString _rangeEnd;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LogRateLimiter _malformedLog;

    // Cancelled by DisposeAsync: ends the watch and the renewals.
    private readonly CancellationTokenSource _stop = new();

    // The view every lookup reads (Volatile.Read); replaced whole by the watch loop, its only writer.
    private NodeTable _view = NodeTable.Empty;

    // The watch loop's working copy of the view, by ident; touched by that loop only (and by the
    // first load, before the loop starts).
    private readonly Dictionary<Ident, NodeEntry> _entries = [];

    // One registration change at a time (register, renew after a loss, deregister).
    private readonly SemaphoreSlim _registering = new(1, 1);

    // Written under _registering, read anywhere (Volatile): this node's entry and value bytes, and its lease (0: none).
    private SelfEntry? _self;
    private long _leaseId;

    private Task? _watchLoop;
    private Task? _leaseLoop;

    // Reachability, under _healthLock: each loop's last outcome, since when the whole is what it is, the last error.
    private readonly Lock _healthLock = new();
    private bool _watchOk = true;
    private bool _leaseOk = true;
    private bool _reachable = true;
    private DateTimeOffset _since;
    private string? _lastError;

    // Counters, Interlocked.
    private long _revision;
    private long _malformed;
    private long _resyncs;
    private long _reregistrations;

    // 1 once DisposeAsync started.
    private int _disposed;

    /// <summary>Creates the registry; nothing is asked of etcd before <see cref="StartAsync"/>.</summary>
    /// <param name="options">Endpoints, prefix, TTL, credentials; throws <see cref="ArgumentException"/> listing every problem.</param>
    /// <param name="logger">Where registration, reachability and malformed entries are reported.</param>
    /// <param name="timeProvider">The clock of the renewals and retries; <see cref="TimeProvider.System"/> if null.</param>
    public EtcdRegistry(EtcdRegistryOptions options, ILogger<EtcdRegistry>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count != 0)
        {
            ThrowHelper.ThrowInvalidOptions(nameof(EtcdRegistryOptions), errors);
        }

        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _malformedLog = new LogRateLimiter(time: _time);
        _keys = new EtcdKeys(options.Prefix);
        byte[] start = Encoding.UTF8.GetBytes(_keys.NodesPrefix);
        _rangeStart = ByteString.CopyFrom(start);
        _rangeEnd = ByteString.CopyFrom(EtcdKeys.PrefixRangeEnd(start));
        _since = _time.GetUtcNow();
        _etcd = new EtcdConnection(options);
    }

    /// <summary>The etcd client URLs in use.</summary>
    public IReadOnlyList<Uri> Endpoints => _etcd.Endpoints;

    /// <summary>The prefix every node key starts with, e.g. "/kaze/nodes/".</summary>
    public string NodesPrefix => _keys.NodesPrefix;

    /// <summary>The local view: every node under the prefix as last seen, by ascending ident.</summary>
    public NodeTable View => Volatile.Read(ref _view);

    /// <summary>Where the registry stands with etcd, and its counters.</summary>
    public EtcdRegistryStatus Status
    {
        get
        {
            bool reachable;
            DateTimeOffset since;
            string? error;
            lock (_healthLock)
            {
                reachable = _reachable;
                since = _since;
                error = _lastError;
            }

            return new EtcdRegistryStatus(
                reachable,
                since,
                error,
                Interlocked.Read(ref _revision),
                View.Count,
                Interlocked.Read(ref _malformed),
                Interlocked.Read(ref _resyncs),
                Volatile.Read(ref _self)?.Entry,
                Volatile.Read(ref _leaseId),
                Interlocked.Read(ref _reregistrations));
        }
    }

    /// <summary>
    /// Raised on the watch's thread after each change of the view (nodes added, changed or removed),
    /// never while a lookup waits. A handler that throws is logged; the view has changed anyway.
    /// </summary>
    public event Action<RegistryChange>? Changed;

    /// <summary>
    /// Reads every node under the prefix, then watches it. Completes once the first view is in:
    /// lookups answer from it at once.
    /// </summary>
    /// <param name="cancellationToken">Cancels the first read.</param>
    /// <returns>When the view is loaded.</returns>
    /// <exception cref="RegistryUnavailableException">etcd did not answer within the request timeout, or refused; the message names the endpoints.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_watchLoop is not null)
        {
            throw new InvalidOperationException("The registry is already started.");
        }

        long revision = await LoadAsync(cancellationToken).ConfigureAwait(false);
        _watchLoop = Task.Run(() => WatchLoopAsync(revision));
    }

    /// <summary>
    /// Writes this node's entry — <paramref name="self"/>'s ident, address and names — under a lease
    /// kept alive until <see cref="DeregisterAsync"/> or <see cref="DisposeAsync"/>.
    /// </summary>
    /// <param name="self">This node; not 0.0.0.0. Its address is where other sidecars should dial it.</param>
    /// <param name="cancellationToken">Cancels the registration (not the renewals that follow).</param>
    /// <returns>When the entry is written.</returns>
    /// <exception cref="IdentHeldException">A live node holds the ident; the message names it.</exception>
    /// <exception cref="RegistryUnavailableException">etcd could not be reached or refused.</exception>
    public async Task RegisterAsync(NodeEntry self, CancellationToken cancellationToken = default)
    {
        if (self.Ident == Ident.Any)
        {
            throw new ArgumentException("0.0.0.0 cannot be registered: as a destination it means the reader's own host.", nameof(self));
        }

        foreach (string name in self.Names)
        {
            if (!ServiceName.IsValid(name, out string? error))
            {
                throw new ArgumentException(error, nameof(self));
            }
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _registering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_self is not null)
            {
                throw new InvalidOperationException($"This registry has registered {_self.Entry.Ident} already; one node per registry.");
            }

            byte[] value = EtcdNodeValue.Format(self.Address, self.Names, Environment.ProcessId, Environment.MachineName, _time.GetUtcNow());
            long lease = await WriteEntryAsync(self, value, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _leaseId, lease);
            Volatile.Write(ref _self, new SelfEntry(self with { Source = "etcd" }, value));
        }
        finally
        {
            _registering.Release();
        }

        _leaseLoop = Task.Run(LeaseLoopAsync);
    }

    /// <summary>Stops renewing this node's entry and revokes its lease, which deletes the entry.</summary>
    /// <param name="cancellationToken">Cancels the revocation; the entry then goes when the lease ends.</param>
    /// <returns>True if an entry was registered.</returns>
    public async Task<bool> DeregisterAsync(CancellationToken cancellationToken = default)
    {
        await _registering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long lease = Volatile.Read(ref _leaseId);
            if (_self is not { } self)
            {
                return false;
            }

            // The renewal loop sees the lease gone and ends at its next turn.
            Volatile.Write(ref _self, null);
            Volatile.Write(ref _leaseId, 0);
            if (lease != 0)
            {
                bool revoked = await RevokeAsync(lease, cancellationToken).ConfigureAwait(false);
                EtcdLog.Deregistered(_logger, self.Entry.Ident, lease, revoked);
            }

            return true;
        }
        finally
        {
            _registering.Release();
        }
    }

    /// <inheritdoc/>
    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default) =>
        Volatile.Read(ref _view).TryGetAddress(ident, out NodeAddress address)
            ? new ValueTask<NodeAddress?>(address)
            : default;

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default) =>
        new(Volatile.Read(ref _view).Match(new MatchKey(ident, mask)));

    /// <inheritdoc/>
    public IReadOnlyList<Ident> ResolveName(string name) => Volatile.Read(ref _view).Members(name);

    /// <summary>Stops the watch and the renewals, revokes this node's lease (bounded by the request timeout), closes the connection.</summary>
    /// <returns>When done; a failed revocation is logged.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (Task? loop in new[] { _watchLoop, _leaseLoop })
        {
            if (loop is not null)
            {
                await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        await _registering.WaitAsync().ConfigureAwait(false);
        try
        {
            long lease = Volatile.Read(ref _leaseId);
            if (_self is { } self && lease != 0)
            {
                try
                {
                    bool revoked = await RevokeAsync(lease, CancellationToken.None).ConfigureAwait(false);
                    EtcdLog.Deregistered(_logger, self.Entry.Ident, lease, revoked);
                }
                catch (Exception exception)
                {
                    EtcdLog.DeregisterFailed(_logger, exception, self.Entry.Ident, lease);
                }
            }

            Volatile.Write(ref _self, null);
            Volatile.Write(ref _leaseId, 0);
        }
        finally
        {
            _registering.Release();
        }

        _etcd.Dispose();
        _stop.Dispose();
        if (_malformedLog.TakeSuppressed() is > 0 and long suppressed)
        {
            EtcdLog.Malformed(_logger, "(several)", "not logged while they came in quick succession", Interlocked.Read(ref _malformed), $", {suppressed} of them not logged before");
        }
    }

    /// <summary>Stops the renewals without revoking, as if the process had died (tests).</summary>
    internal async Task AbandonRegistrationAsync()
    {
        await _registering.WaitAsync().ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _self, null);
            Volatile.Write(ref _leaseId, 0);
        }
        finally
        {
            _registering.Release();
        }
    }

    // ---- the view ---------------------------------------------------------------------------

    /// <summary>Reads every node under the prefix into the view; returns the revision read.</summary>
    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        RangeResponse range;
        try
        {
            range = await _etcd.Raw.KVClient.RangeAsync(
                new RangeRequest { Key = _rangeStart, RangeEnd = _rangeEnd, Limit = MaxNodes },
                deadline: _etcd.Deadline(),
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw _etcd.Unavailable($"reading {_keys.NodesPrefix}", e);
        }

        if (range.More)
        {
            EtcdLog.TooManyKeys(_logger, MaxNodes, _keys.NodesPrefix);
        }

        var before = new Dictionary<Ident, NodeEntry>(_entries);
        _entries.Clear();
        foreach (KeyValue kv in range.Kvs)
        {
            if (TryReadEntry(kv, out NodeEntry entry))
            {
                _entries[entry.Ident] = entry;
            }
        }

        Publish(range.Header.Revision, before);
        return range.Header.Revision;
    }

    private async Task WatchLoopAsync(long revision)
    {
        CancellationToken stop = _stop.Token;
        TimeSpan delay = RetryMin;
        bool loaded = true;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!loaded)
                {
                    revision = await LoadAsync(stop).ConfigureAwait(false);
                    Interlocked.Increment(ref _resyncs);
                    loaded = true;
                }

                SetHealth(watch: true, error: null);
                delay = RetryMin;
                await FollowAsync(revision + 1, stop).ConfigureAwait(false);

                // A compacted revision: read everything again at once.
                loaded = false;
                continue;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                RegistryUnavailableException failure = exception as RegistryUnavailableException ?? _etcd.Unavailable("watching " + _keys.NodesPrefix, exception);
                SetHealth(watch: false, error: failure.Message);
                loaded = false;
            }

            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = delay * 2 < RetryMax ? delay * 2 : RetryMax;
        }
    }

    /// <summary>Applies the watch's events from <paramref name="fromRevision"/> on; returns when etcd compacted past it, throws when the stream fails.</summary>
    private async Task FollowAsync(long fromRevision, CancellationToken stop)
    {
        using AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call = _etcd.Raw.WatchClient.Watch(cancellationToken: stop);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = _rangeStart, RangeEnd = _rangeEnd, StartRevision = fromRevision, ProgressNotify = true },
        }, stop).ConfigureAwait(false);
        while (await call.ResponseStream.MoveNext(stop).ConfigureAwait(false))
        {
            WatchResponse response = call.ResponseStream.Current;
            if (response.CompactRevision != 0)
            {
                EtcdLog.Compacted(_logger, fromRevision, response.CompactRevision);
                return;
            }

            if (response.Canceled)
            {
                throw new RegistryUnavailableException($"etcd at {_etcd.Describe()} cancelled the watch of {_keys.NodesPrefix}: {response.CancelReason}", _etcd.Endpoints);
            }

            SetHealth(watch: true, error: null);
            if (response.Events.Count == 0)
            {
                continue;
            }

            var before = new Dictionary<Ident, NodeEntry>(response.Events.Count);
            foreach (Event change in response.Events)
            {
                string key = change.Kv.Key.ToStringUtf8();
                if (!_keys.TryParseNodeKey(key, out Ident ident))
                {
                    if (change.Type == Event.Types.EventType.Put)
                    {
                        Malformed(key, $"the part after {_keys.NodesPrefix} is not a dotted ident in canonical form");
                    }

                    continue;
                }

                if (_entries.TryGetValue(ident, out NodeEntry old))
                {
                    before.TryAdd(ident, old);
                }
                else
                {
                    before.TryAdd(ident, default);
                }

                if (change.Type == Event.Types.EventType.Delete)
                {
                    _entries.Remove(ident);
                }
                else if (TryReadEntry(change.Kv, out NodeEntry entry))
                {
                    if (_entries.Count < MaxNodes || _entries.ContainsKey(ident))
                    {
                        _entries[ident] = entry;
                    }
                }
                else
                {
                    // An entry that was a node's and is garbage now: the node is gone from the view.
                    _entries.Remove(ident);
                }
            }

            Publish(response.Header.Revision, before, partial: true);
        }

        throw new RegistryUnavailableException($"etcd at {_etcd.Describe()} ended the watch of {_keys.NodesPrefix}", _etcd.Endpoints);
    }

    private bool TryReadEntry(KeyValue kv, out NodeEntry entry)
    {
        entry = default;
        string key = kv.Key.ToStringUtf8();
        if (!_keys.TryParseNodeKey(key, out Ident ident))
        {
            Malformed(key, $"the part after {_keys.NodesPrefix} is not a dotted ident in canonical form");
            return false;
        }

        if (ident == Ident.Any)
        {
            Malformed(key, "0.0.0.0 cannot name a node");
            return false;
        }

        if (!EtcdNodeValue.TryParse(kv.Value.Span, out EtcdNodeValue.Parsed? value, out string? error))
        {
            Malformed(key, error);
            return false;
        }

        entry = new NodeEntry(ident, value.Address) { Source = "etcd", Names = value.Names, RegisteredAt = value.RegisteredAt };
        return true;
    }

    /// <summary>
    /// Publishes the working copy as the view and reports what changed against <paramref name="before"/>
    /// (every entry before, or with <paramref name="partial"/> only those of the idents touched; default = absent).
    /// </summary>
    private void Publish(long revision, Dictionary<Ident, NodeEntry> before, bool partial = false)
    {
        Interlocked.Exchange(ref _revision, revision);
        var added = new List<NodeEntry>();
        var updated = new List<NodeEntry>();
        var removed = new List<NodeEntry>();
        foreach ((Ident ident, NodeEntry old) in before)
        {
            bool existed = old.Address.Host is not null;
            bool exists = _entries.TryGetValue(ident, out NodeEntry now);
            if (existed && !exists)
            {
                removed.Add(old);
            }
            else if (!existed && exists)
            {
                added.Add(now);
            }
            else if (existed && exists && (old.Address != now.Address || !old.Names.SequenceEqual(now.Names)))
            {
                updated.Add(now);
            }
        }

        if (!partial)
        {
            foreach ((Ident ident, NodeEntry now) in _entries)
            {
                if (!before.ContainsKey(ident))
                {
                    added.Add(now);
                }
            }
        }

        if (added.Count == 0 && updated.Count == 0 && removed.Count == 0 && Volatile.Read(ref _view).Count == _entries.Count)
        {
            return;
        }

        NodeEntry[] sorted = [.. _entries.Values];
        Array.Sort(sorted, static (a, b) => a.Ident.Value.CompareTo(b.Ident.Value));
        var view = NodeTable.FromSorted(sorted);
        Volatile.Write(ref _view, view);
        EtcdLog.ViewChanged(_logger, revision, added.Count, updated.Count, removed.Count, view.Count);
        try
        {
            Changed?.Invoke(new RegistryChange(added.AsReadOnly(), updated.AsReadOnly(), removed.AsReadOnly(), view));
        }
        catch (Exception exception)
        {
            EtcdLog.ChangeHandlerFailed(_logger, exception);
        }
    }

    private void Malformed(string key, string reason)
    {
        long count = Interlocked.Increment(ref _malformed);
        if (_malformedLog.TryAcquire(out long suppressed))
        {
            // Someone else's key: bounded before it reaches the log.
            string shown = key.Length <= 200 ? key : key[..200] + "...";
            EtcdLog.Malformed(_logger, shown, reason, count, suppressed == 0 ? "" : $", {suppressed} not logged before this one");
        }
    }

    // ---- this node's entry ------------------------------------------------------------------

    /// <summary>Grants a lease and writes the entry under it unless a live node holds the ident; returns the lease.</summary>
    private async Task<long> WriteEntryAsync(NodeEntry self, byte[] value, CancellationToken cancellationToken)
    {
        ByteString key = ByteString.CopyFromUtf8(_keys.NodeKey(self.Ident));
        long ttl = (long)_options.Ttl.TotalSeconds;
        long lease = 0;
        try
        {
            long started = _time.GetTimestamp();
            while (true)
            {
                // A lease per attempt: waiting out a stale holder can take longer than our own TTL.
                LeaseGrantResponse grant = await _etcd.Raw.LeaseClient.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttl }, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!string.IsNullOrEmpty(grant.Error) || grant.ID == 0)
                {
                    throw new RegistryUnavailableException($"etcd at {_etcd.Describe()} granted no lease: {(string.IsNullOrEmpty(grant.Error) ? "the answer has no ID" : grant.Error)}", _etcd.Endpoints);
                }

                lease = grant.ID;
                var txn = new TxnRequest
                {
                    Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
                    Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value), Lease = lease } } },
                    Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
                };
                TxnResponse written = await _etcd.Raw.KVClient.TxnAsync(txn, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
                if (written.Succeeded)
                {
                    EtcdLog.Registered(_logger, self.Ident, self.Address, self.Names.Count == 0 ? "none" : string.Join(", ", self.Names), key.ToStringUtf8(), lease, grant.TTL, Interval(grant.TTL));
                    return lease;
                }

                await RevokeQuietlyAsync(lease).ConfigureAwait(false);
                lease = 0;
                KeyValue? held = written.Responses.Count > 0 ? written.Responses[0].ResponseRange?.Kvs.FirstOrDefault() : null;
                if (held is not null)
                {
                    TimeSpan patience = TimeSpan.FromSeconds(Math.Max(2 * ttl, 30)) - _time.GetElapsedTime(started);
                    await WaitOutHolderAsync(self.Ident, held, patience, cancellationToken).ConfigureAwait(false);
                }

                // else: deleted between the compare and the read; try again.
            }
        }
        catch (Exception e) when (e is RpcException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw _etcd.Unavailable($"registering {self.Ident}", e);
        }
        catch
        {
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Returns once the holder's lease has ended; throws <see cref="IdentHeldException"/> if the holder
    /// renews it (it is alive) or will not let go within <paramref name="patience"/>.
    /// </summary>
    private async Task WaitOutHolderAsync(Ident ident, KeyValue held, TimeSpan patience, CancellationToken cancellationToken)
    {
        EtcdNodeValue.TryParse(held.Value.Span, out EtcdNodeValue.Parsed? holder, out _);
        var entry = new NodeEntry(ident, holder?.Address ?? default) { Source = "etcd", Names = holder?.Names ?? [] };
        string who = DescribeHolder(held, holder);
        string key = held.Key.ToStringUtf8();
        if (held.Lease == 0)
        {
            throw new IdentHeldException(
                $"ident {ident} is taken in etcd by {who}, whose key {key} has no lease and never expires (written by hand?); delete it (etcdctl del {key}) or give this sidecar another ident",
                entry,
                holder?.Pid,
                holder?.Host);
        }

        long start = _time.GetTimestamp();
        long first = 0;
        TimeSpan? watchFor = null;
        while (true)
        {
            LeaseTimeToLiveResponse left = await _etcd.Raw.LeaseClient.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = held.Lease }, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            TimeSpan elapsed = _time.GetElapsedTime(start);
            if (left.TTL <= 0)
            {
                return;
            }

            if (watchFor is null)
            {
                // A live holder renews every third of its TTL (Kaze's rule): watch that long, plus a
                // margin for the whole seconds etcd reports in.
                first = left.TTL;
                watchFor = TimeSpan.FromSeconds((left.GrantedTTL / 3.0) + 3);
            }
            else if (left.TTL > first - elapsed.TotalSeconds + 1.5)
            {
                // More time left than a lease nobody renews can have (etcd floors to whole seconds,
                // hence the margin): the holder renewed it meanwhile.
                throw new IdentHeldException(
                    $"ident {ident} is held in etcd by a live sidecar: {who} (key {key}, lease {held.Lease:x}, renewed while this sidecar watched); stop it, or give this sidecar another ident",
                    entry,
                    holder?.Pid,
                    holder?.Host);
            }

            if (elapsed >= watchFor)
            {
                TimeSpan rest = TimeSpan.FromSeconds(left.TTL + 0.5);
                if (rest > patience - elapsed)
                {
                    throw new IdentHeldException(
                        $"ident {ident} is held in etcd by {who} (key {key}), which has not renewed its lease for {elapsed.TotalSeconds:0.#} s but keeps it for {left.TTL} s more; wait, delete the key (etcdctl del {key}), or give this sidecar another ident",
                        entry,
                        holder?.Pid,
                        holder?.Host);
                }

                EtcdLog.WaitingForStaleEntry(_logger, ident, who, rest);
                await Task.Delay(rest, _time, cancellationToken).ConfigureAwait(false);
                return;
            }

            await Task.Delay(HolderPoll, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string DescribeHolder(KeyValue held, EtcdNodeValue.Parsed? holder)
    {
        if (holder is null)
        {
            return "an entry that is not a Kaze node's";
        }

        string pid = holder.Pid is int p ? $"pid {p}" : "a process";
        string host = holder.Host is { Length: > 0 } h ? $" on {h}" : "";
        string names = holder.Names.Length == 0 ? "" : $", names {string.Join(", ", holder.Names)}";
        return $"{pid}{host} at {holder.Address}{names}";
    }

    private async Task LeaseLoopAsync()
    {
        CancellationToken stop = _stop.Token;
        TimeSpan interval = Interval((long)_options.Ttl.TotalSeconds);
        TimeSpan delay = RetryMin;
        while (!stop.IsCancellationRequested && Volatile.Read(ref _leaseId) != 0)
        {
            try
            {
                using AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse> call = _etcd.Raw.LeaseClient.LeaseKeepAlive(cancellationToken: stop);
                while (Volatile.Read(ref _leaseId) is long lease and not 0)
                {
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, stop).ConfigureAwait(false);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    timeout.CancelAfter(_options.RequestTimeout);
                    if (!await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
                    {
                        throw new RegistryUnavailableException($"etcd at {_etcd.Describe()} ended the lease keep-alive stream", _etcd.Endpoints);
                    }

                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        await RegisterAgainAsync(lease, stop).ConfigureAwait(false);
                    }

                    SetHealth(lease: true, error: null);
                    delay = RetryMin;
                    await Task.Delay(interval, _time, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                RegistryUnavailableException failure = exception as RegistryUnavailableException ?? _etcd.Unavailable("renewing the lease", exception);
                SetHealth(lease: false, error: failure.Message);
            }

            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = delay * 2 < RetryMax ? delay * 2 : RetryMax;
        }
    }

    /// <summary>The lease is gone (etcd lost it, or it ended while out of reach): writes the entry again under a new one.</summary>
    private async Task RegisterAgainAsync(long lostLease, CancellationToken stop)
    {
        await _registering.WaitAsync(stop).ConfigureAwait(false);
        try
        {
            if (_self is not { } registered || Volatile.Read(ref _leaseId) != lostLease)
            {
                return;
            }

            NodeEntry self = registered.Entry;
            EtcdLog.LeaseLost(_logger, self.Ident, lostLease);
            TimeSpan interval = Interval((long)_options.Ttl.TotalSeconds);
            while (true)
            {
                try
                {
                    long lease = await WriteEntryAsync(self, registered.Value, stop).ConfigureAwait(false);
                    Volatile.Write(ref _leaseId, lease);
                    Interlocked.Increment(ref _reregistrations);
                    return;
                }
                catch (IdentHeldException held)
                {
                    // Another sidecar took the ident while this one was cut off: say so, and keep trying.
                    EtcdLog.ReregisterFailed(_logger, self.Ident, held.Message, _options.Ttl);
                    SetHealth(lease: true, error: held.Message);
                    await Task.Delay(_options.Ttl, _time, stop).ConfigureAwait(false);
                }
                catch (RegistryUnavailableException unavailable)
                {
                    EtcdLog.ReregisterFailed(_logger, self.Ident, unavailable.Message, interval);
                    throw;
                }
            }
        }
        finally
        {
            _registering.Release();
        }
    }

    private async Task<bool> RevokeAsync(long lease, CancellationToken cancellationToken)
    {
        try
        {
            await _etcd.Raw.LeaseClient.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return false;
        }
        catch (RpcException e)
        {
            throw _etcd.Unavailable("revoking the lease", e);
        }
    }

    private async Task RevokeQuietlyAsync(long lease)
    {
        if (lease == 0)
        {
            return;
        }

        try
        {
            await RevokeAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RegistryUnavailableException)
        {
            // The lease ends by itself within its TTL; nothing was written under it.
        }
    }

    /// <summary>This node's registration: its entry and the value written for it.</summary>
    private sealed record SelfEntry(NodeEntry Entry, byte[] Value);

    private static TimeSpan Interval(long ttlSeconds) => TimeSpan.FromSeconds(Math.Max(ttlSeconds, 1) / 3.0);

    private void SetHealth(bool? watch = null, bool? lease = null, string? error = null)
    {
        bool changed;
        bool reachable;
        TimeSpan outage = default;
        int nodes = 0;
        lock (_healthLock)
        {
            _watchOk = watch ?? _watchOk;
            _leaseOk = lease ?? _leaseOk;
            if (error is not null)
            {
                _lastError = error;
            }

            reachable = _watchOk && _leaseOk;
            changed = reachable != _reachable;
            if (changed)
            {
                DateTimeOffset now = _time.GetUtcNow();
                outage = now - _since;
                _reachable = reachable;
                _since = now;
                nodes = View.Count;
            }
        }

        if (!changed)
        {
            return;
        }

        if (reachable)
        {
            EtcdLog.Reachable(_logger, outage);
        }
        else
        {
            EtcdLog.Unreachable(_logger, error ?? "unknown", nodes);
        }
    }
}
