using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Etcd;

internal static partial class EtcdLog
{
    [LoggerMessage(EventId = 510, Level = LogLevel.Information, Message = "Registered {Ident} at {Address} in etcd: key {Key}, lease {Lease:x}, TTL {Ttl} s, renewed every {Interval}")]
    public static partial void Registered(ILogger logger, Ident ident, NodeAddress address, string key, long lease, long ttl, TimeSpan interval);

    [LoggerMessage(EventId = 511, Level = LogLevel.Information, Message = "Deregistered {Ident} from etcd (lease {Lease:x} revoked: {Revoked})")]
    public static partial void Deregistered(ILogger logger, Ident ident, long lease, bool revoked);

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning, Message = "Renewing the registration of {Ident} failed; retrying every {Interval}. Without a renewal etcd drops the key {Ttl} s after the last one")]
    public static partial void KeepAliveFailed(ILogger logger, Exception exception, Ident ident, TimeSpan interval, long ttl);

    [LoggerMessage(EventId = 513, Level = LogLevel.Information, Message = "Renewing the registration of {Ident} works again")]
    public static partial void KeepAliveRecovered(ILogger logger, Ident ident);

    [LoggerMessage(EventId = 514, Level = LogLevel.Warning, Message = "etcd no longer has the lease of {Ident} ({Lease:x}): it expired before a renewal arrived; registering again")]
    public static partial void LeaseLost(ILogger logger, Ident ident, long lease);

    [LoggerMessage(EventId = 515, Level = LogLevel.Debug, Message = "Ignored etcd key {Key}: the part after {Prefix} is not a dotted ident in canonical form")]
    public static partial void ForeignKey(ILogger logger, string key, string prefix);

    [LoggerMessage(EventId = 516, Level = LogLevel.Warning, Message = "Deregistering {Ident} from etcd failed; its key disappears when lease {Lease:x} expires")]
    public static partial void DeregisterFailed(ILogger logger, Exception exception, Ident ident, long lease);

    [LoggerMessage(EventId = 517, Level = LogLevel.Debug, Message = "etcd endpoint {Endpoint} failed ({Reason}); trying the next, if any")]
    public static partial void EndpointFailed(ILogger logger, Uri endpoint, string reason);

    [LoggerMessage(EventId = 518, Level = LogLevel.Information, Message = "{Ident} was registered in etcd at the same address {Address} under another lease (a restart?); taking the key over")]
    public static partial void TookOver(ILogger logger, Ident ident, NodeAddress address);
}
