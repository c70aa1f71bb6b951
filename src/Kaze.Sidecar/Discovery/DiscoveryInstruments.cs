using System.Diagnostics.Metrics;
using Kaze.Resolver.Etcd;

namespace Kaze.Sidecar.Discovery;

/// <summary>
/// The <c>kaze_discovery_*</c> instruments (docs/metrics.md): read from the registry's status when
/// an exporter collects; nothing is added to any path packets take.
/// </summary>
internal static class DiscoveryInstruments
{
    public static void Create(Meter meter, EtcdDiscovery discovery)
    {
        meter.CreateObservableGauge("kaze_discovery_reachable", () => discovery.Registry.Status.Reachable ? 1 : 0, "", "1 while etcd answers this sidecar's watch and lease renewals; 0 while it is out of reach (the last view is kept).");
        meter.CreateObservableGauge("kaze_discovery_nodes", () => discovery.Registry.Status.Nodes, "{node}", "Nodes in this sidecar's view of etcd.");
        meter.CreateObservableCounter("kaze_discovery_malformed_entries", () => Status(discovery).MalformedEntries, "{entry}", "Keys under the prefix that were not a node's entry (ignored), counted each time one was seen.");
        meter.CreateObservableCounter("kaze_discovery_resyncs", () => Status(discovery).Resyncs, "{resync}", "Full reloads of the view after the first (etcd back after an outage, a compacted revision).");
        meter.CreateObservableCounter("kaze_discovery_reregistrations", () => Status(discovery).Reregistrations, "{registration}", "Times this node's entry was written again after its lease was lost.");
        meter.CreateObservableCounter("kaze_discovery_removals", () => discovery.Removals, "{node}", "Nodes that left the view and whose connection was closed (pending requests to them answered UNREACHABLE).");
    }

    private static EtcdRegistryStatus Status(EtcdDiscovery discovery) => discovery.Registry.Status;
}
