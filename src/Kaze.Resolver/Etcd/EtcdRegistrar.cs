using System.Text;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Etcd;

/// <summary>Claims a node's key under a new lease, refusing an ident that another address holds.</summary>
internal sealed class EtcdRegistrar(EtcdClient client, EtcdKeys keys, ILogger logger)
{
    public EtcdClient Client { get; } = client;

    public EtcdKeys Keys { get; } = keys;

    /// <summary>
    /// Grants a lease and writes the node's key with it, in one transaction that succeeds only if
    /// the key does not exist. A key that exists with the same address (this node before a restart,
    /// its lease not yet expired) is taken over; one with another address is another node's, and
    /// the claim fails. On failure the new lease is revoked.
    /// </summary>
    /// <returns>The lease and the TTL etcd granted, in seconds.</returns>
    public async Task<(long Lease, long Ttl)> ClaimAsync(Ident ident, NodeAddress address, long ttlSeconds, CancellationToken cancellationToken)
    {
        (long lease, long granted) = await Client.GrantLeaseAsync(ttlSeconds, cancellationToken).ConfigureAwait(false);
        try
        {
            string key = Keys.NodeKey(ident);
            string value = address.ToString();
            var put = new PutRequest { Key = Encoding.UTF8.GetBytes(key), Value = Encoding.UTF8.GetBytes(value), Lease = lease };
            TxnResponse txn = await Client.TxnAsync(
                new TxnRequest
                {
                    Compare = [new TxnCompare { Key = put.Key, Result = "EQUAL", Target = "CREATE", CreateRevision = 0 }],
                    Success = [new TxnRequestOp { RequestPut = put }],
                    Failure = [new TxnRequestOp { RequestRange = new RangeRequest { Key = put.Key } }],
                },
                cancellationToken).ConfigureAwait(false);
            if (!txn.Succeeded)
            {
                KeyValue? held = txn.Responses?.FirstOrDefault()?.ResponseRange?.Kvs?.FirstOrDefault();
                string? heldBy = held is null ? null : Encoding.UTF8.GetString(held.Value ?? []);
                if (heldBy is not null && heldBy != value)
                {
                    throw new ResolverException(
                        $"Cannot register {ident} at {value}: etcd already holds {key} = '{heldBy}' (lease {held!.Lease:x}), " +
                        "another node's registration. Two sidecars cannot share an ident; the key disappears when that node stops.");
                }

                // The same address under another lease (or the key vanished meanwhile): take it over.
                EtcdLog.TookOver(logger, ident, address);
                await Client.PutAsync(put, cancellationToken).ConfigureAwait(false);
            }

            return (lease, granted);
        }
        catch
        {
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw;
        }
    }

    private async Task RevokeQuietlyAsync(long lease)
    {
        try
        {
            await Client.RevokeLeaseAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }
        catch (RegistryUnavailableException)
        {
            // The lease has no key (the claim failed) and expires by itself.
        }
    }
}
