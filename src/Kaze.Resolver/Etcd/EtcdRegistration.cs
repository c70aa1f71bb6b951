using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// One node announced in etcd: its key, attached to a lease that a background loop renews every
/// third of the TTL. If the loop stops (the process dies), etcd deletes the key when the lease expires.
/// </summary>
internal sealed class EtcdRegistration
{
    private readonly EtcdRegistrar _registrar;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    // The current lease; replaced by the loop when etcd has lost the old one.
    private long _leaseId;

    // The TTL etcd granted, in seconds (it may raise the one asked for).
    private long _grantedTtl;

    // Renewals that succeeded; for tests and diagnostics.
    private int _renewals;

    private EtcdRegistration(EtcdRegistrar registrar, Ident ident, NodeAddress address, long ttlSeconds, ILogger logger, TimeProvider time)
    {
        _registrar = registrar;
        Ident = ident;
        Address = address;
        TtlSeconds = ttlSeconds;
        _logger = logger;
        _time = time;
    }

    public Ident Ident { get; }

    public NodeAddress Address { get; }

    /// <summary>The TTL asked for, in seconds.</summary>
    public long TtlSeconds { get; }

    public long LeaseId => Interlocked.Read(ref _leaseId);

    public int Renewals => Volatile.Read(ref _renewals);

    /// <summary>A third of the granted TTL, at least 0.5 s: two renewals can fail before the key goes.</summary>
    public TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(0.5, Interlocked.Read(ref _grantedTtl) / 3.0));

    public static async Task<EtcdRegistration> StartAsync(
        EtcdRegistrar registrar, Ident ident, NodeAddress address, long ttlSeconds, ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        var registration = new EtcdRegistration(registrar, ident, address, ttlSeconds, logger, time);
        (long lease, long granted) = await registrar.ClaimAsync(ident, address, ttlSeconds, cancellationToken).ConfigureAwait(false);
        registration._leaseId = lease;
        registration._grantedTtl = granted;
        EtcdLog.Registered(logger, ident, address, registrar.Keys.NodeKey(ident), lease, granted, registration.Interval);
        registration._loop = registration.RenewLoopAsync();
        return registration;
    }

    /// <summary>Stops renewing. The key stays until the lease is revoked or expires.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RenewLoopAsync()
    {
        CancellationToken stop = _stop.Token;
        bool failing = false;
        while (true)
        {
            try
            {
                await Task.Delay(Interval, _time, stop).ConfigureAwait(false);
                long ttl = await _registrar.Client.KeepAliveAsync(LeaseId, stop).ConfigureAwait(false);
                if (ttl <= 0)
                {
                    EtcdLog.LeaseLost(_logger, Ident, LeaseId);
                    (long lease, long granted) = await _registrar.ClaimAsync(Ident, Address, TtlSeconds, stop).ConfigureAwait(false);
                    Interlocked.Exchange(ref _leaseId, lease);
                    Interlocked.Exchange(ref _grantedTtl, granted);
                    EtcdLog.Registered(_logger, Ident, Address, _registrar.Keys.NodeKey(Ident), lease, granted, Interval);
                }

                Interlocked.Increment(ref _renewals);
                if (failing)
                {
                    failing = false;
                    EtcdLog.KeepAliveRecovered(_logger, Ident);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // Reported once per outage, not once per attempt.
                if (!failing)
                {
                    failing = true;
                    EtcdLog.KeepAliveFailed(_logger, exception, Ident, Interval, Interlocked.Read(ref _grantedTtl));
                }
            }
        }
    }
}
