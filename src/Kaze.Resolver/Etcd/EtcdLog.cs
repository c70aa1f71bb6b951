using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Etcd;

internal static partial class EtcdLog
{
    [LoggerMessage(EventId = 510, Level = LogLevel.Information, Message = "Registered {Ident} at {Address} (names: {Names}) in etcd: key {Key}, lease {Lease:x}, TTL {Ttl} s, renewed every {Interval}")]
    public static partial void Registered(ILogger logger, Ident ident, NodeAddress address, string names, string key, long lease, long ttl, TimeSpan interval);

    [LoggerMessage(EventId = 511, Level = LogLevel.Information, Message = "Deregistered {Ident} from etcd (lease {Lease:x} revoked: {Revoked})")]
    public static partial void Deregistered(ILogger logger, Ident ident, long lease, bool revoked);

    [LoggerMessage(EventId = 512, Level = LogLevel.Warning, Message = "etcd is out of reach ({Reason}); keeping the last view of {Nodes} nodes and retrying")]
    public static partial void Unreachable(ILogger logger, string reason, int nodes);

    [LoggerMessage(EventId = 513, Level = LogLevel.Information, Message = "etcd is reachable again after {Outage}; the view is reloaded")]
    public static partial void Reachable(ILogger logger, TimeSpan outage);

    [LoggerMessage(EventId = 514, Level = LogLevel.Warning, Message = "etcd no longer has the lease of {Ident} ({Lease:x}): it expired or was revoked while out of reach; registering again")]
    public static partial void LeaseLost(ILogger logger, Ident ident, long lease);

    [LoggerMessage(EventId = 515, Level = LogLevel.Warning, Message = "Ignored etcd key {Key}: {Reason} ({Count} ignored since start{Suppressed})")]
    public static partial void Malformed(ILogger logger, string key, string reason, long count, string suppressed);

    [LoggerMessage(EventId = 516, Level = LogLevel.Warning, Message = "Deregistering {Ident} from etcd failed; its entry disappears when lease {Lease:x} expires")]
    public static partial void DeregisterFailed(ILogger logger, Exception exception, Ident ident, long lease);

    [LoggerMessage(EventId = 517, Level = LogLevel.Information, Message = "etcd compacted revision {Revision} before the watch caught up (compacted to {Compacted}); reloading the view")]
    public static partial void Compacted(ILogger logger, long revision, long compacted);

    [LoggerMessage(EventId = 518, Level = LogLevel.Warning, Message = "{Ident} is still in etcd from a sidecar that stopped renewing it ({Holder}); waiting up to {Wait} for its lease to end")]
    public static partial void WaitingForStaleEntry(ILogger logger, Ident ident, string holder, TimeSpan wait);

    [LoggerMessage(EventId = 519, Level = LogLevel.Error, Message = "Could not register {Ident} again: {Reason}; retrying every {Interval}")]
    public static partial void ReregisterFailed(ILogger logger, Ident ident, string reason, TimeSpan interval);

    [LoggerMessage(EventId = 520, Level = LogLevel.Debug, Message = "etcd view at revision {Revision}: {Added} added, {Updated} updated, {Removed} removed, {Nodes} nodes")]
    public static partial void ViewChanged(ILogger logger, long revision, int added, int updated, int removed, int nodes);

    [LoggerMessage(EventId = 521, Level = LogLevel.Warning, Message = "More than {Limit} keys under {Prefix}: the rest are not read")]
    public static partial void TooManyKeys(ILogger logger, int limit, string prefix);

    [LoggerMessage(EventId = 522, Level = LogLevel.Error, Message = "A handler of etcd view changes failed")]
    public static partial void ChangeHandlerFailed(ILogger logger, Exception exception);
}
