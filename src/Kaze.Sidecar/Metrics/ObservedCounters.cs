using System.Diagnostics.Metrics;
using Kaze.Edge;
using Kaze.Mesh;
using Kaze.Sidecar.Routing;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// Observable instruments over the counters the edge, the router and the corral already keep:
/// nothing is added to the hot paths, the values are read (racily, as the counters allow) when an
/// exporter collects.
/// </summary>
/// <remarks>
/// The callbacks must never touch a node that is being disposed (the rings are mapped memory):
/// <see cref="Detach"/> runs before the node stops, and once it returns no callback reads
/// anything. A node without a host (<c>kaze sidecar</c>) reports no edge series.
/// </remarks>
internal sealed class ObservedCounters
{
    private static readonly KeyValuePair<string, object?> HostToSidecar = new("direction", "host_to_sidecar");
    private static readonly KeyValuePair<string, object?> SidecarToHost = new("direction", "sidecar_to_host");
    private static readonly KeyValuePair<string, object?> NetworkIn = new("direction", "network_in");
    private static readonly KeyValuePair<string, object?> NetworkOut = new("direction", "network_out");
    private static readonly KeyValuePair<string, object?> RingToHost = new("ring", "sidecar_to_host");
    private static readonly KeyValuePair<string, object?> RingFromHost = new("ring", "host_to_sidecar");

    private readonly SidecarNode _node;
    private readonly PeerCorral _corral;

    // Held by every callback while it reads, and by Detach; after Detach no callback reads.
    private readonly Lock _gate = new();
    private bool _detached;

    public ObservedCounters(KazeMeter kaze, SidecarNode node, PeerCorral corral)
    {
        _node = node;
        _corral = corral;
        Meter meter = kaze.Meter;
        meter.CreateObservableCounter("kaze_packets", Packets, "{packet}", "Packets moved, by direction: host_to_sidecar and sidecar_to_host through the channel, network_in and network_out as TCP frames (handshake frames included).");
        meter.CreateObservableCounter("kaze_bytes", Bytes, "By", "Bytes moved, by direction: ring records of the channel (host_to_sidecar, sidecar_to_host), TCP frames (network_in, network_out).");
        meter.CreateObservableCounter("kaze_dropped", Dropped, "{packet}", "Packets dropped, by reason: host_too_large, host_slow, host_closed (on the way to the host), unroutable (notifies and responses with no route, forged kaze.exit), late_response (after the tracker answered RET_TIMEOUT), spoofed_source (with TLS, a peer's packet whose srcIdent is not its certificate's ident, from a peer that may not relay).");
        meter.CreateObservableCounter("kaze_decode_errors", DecodeErrors, "{record}", "Records that were not valid packets, by source: host (a ring record; dropped) and network (a bad TCP frame; the connection is closed).");
        meter.CreateObservableGauge("kaze_ring_fill_bytes", RingFill, "By", "Bytes waiting in each ring of the channel now, by ring (sidecar_to_host, host_to_sidecar).");
        meter.CreateObservableGauge("kaze_ring_capacity_bytes", RingCapacity, "By", "Capacity of each ring of the channel, by ring.");
        meter.CreateObservableCounter("kaze_blocked_waits", BlockedWaits, "{wait}", "Waits of the sidecar that slept in the kernel, by ring: host_to_sidecar (reading, the ring was empty), sidecar_to_host (writing, the ring was full).");
        meter.CreateObservableGauge("kaze_host_queue_packets", HostQueue, "{packet}", "Packets queued for the host because its ring was full.");
        meter.CreateObservableGauge("kaze_peer_connections", PeerConnections, "{connection}", "Connections to other sidecars that completed the handshake and are open.");
        meter.CreateObservableCounter("kaze_connection_attempts", ConnectionAttempts, "{connection}", "Connections to other sidecars begun, by direction: outbound (dials) and inbound (accepted).");
        meter.CreateObservableCounter("kaze_connection_failures", ConnectionFailures, "{connection}", "Failed connection attempts and closed connections, by reason (connect_failed, unresolved, handshake_timeout, bad_hello, auth_failed, bad_frame, frame_too_large, peer_closed, duplicate, connection_limit, handshake_limit, slow_frame, receive_budget, tls_failed).");
        meter.CreateObservableCounter("kaze_timeouts", () => Router(static r => r.Timeouts), "{request}", "Requests of the host answered RET_TIMEOUT by the tracker.");
        meter.CreateObservableCounter("kaze_unreachable", () => Router(static r => r.Unreachable), "{request}", "Requests answered RET_UNREACHABLE (no route, or the peer could not be reached).");
        meter.CreateObservableCounter("kaze_resource_exhausted", () => Router(static r => r.ResourceExhausted), "{request}", "Requests answered RET_RESOURCE_EXHAUSTED because a peer's queue was full.");
        meter.CreateObservableCounter("kaze_pipeline_errors", () => Router(static r => r.Errors), "{packet}", "Packets on which a middleware threw (requests answered RET_UNREACHABLE, notifies dropped).");
        meter.CreateObservableGauge("kaze_pending_requests", PendingRequests, "{request}", "Requests of the host waiting for their response.");
        meter.CreateObservableGauge("kaze_host_exit_code", HostExitCode, "", "The host program's exit code (128+N for signal N), once it has exited.");
        meter.CreateObservableCounter("kaze_host_restarts", () => Read(static _ => new Measurement<long>[] { new(0) }), "{restart}", "Restarts of the host program. kaze does not restart hosts yet: always 0.");
    }

    /// <summary>Stops every callback from reading the node; waits for one that is reading.</summary>
    public void Detach()
    {
        lock (_gate)
        {
            _detached = true;
        }
    }

    private IEnumerable<Measurement<long>> Packets() => Read(self =>
    {
        var values = new List<Measurement<long>>(4);
        if (self._node.EdgeIfStarted is { } edge)
        {
            values.Add(new(edge.Counters.HostToSidecarPackets, HostToSidecar));
            values.Add(new(edge.Counters.SidecarToHostPackets, SidecarToHost));
        }

        values.Add(new(self._corral.Counters.FramesIn, NetworkIn));
        values.Add(new(self._corral.Counters.FramesOut, NetworkOut));
        return values;
    });

    private IEnumerable<Measurement<long>> Bytes() => Read(self =>
    {
        var values = new List<Measurement<long>>(4);
        if (self._node.EdgeIfStarted is { } edge)
        {
            values.Add(new(edge.Counters.HostToSidecarBytes, HostToSidecar));
            values.Add(new(edge.Counters.SidecarToHostBytes, SidecarToHost));
        }

        values.Add(new(self._corral.Counters.BytesIn, NetworkIn));
        values.Add(new(self._corral.Counters.BytesOut, NetworkOut));
        return values;
    });

    private IEnumerable<Measurement<long>> Dropped() => Read(self =>
    {
        var values = new List<Measurement<long>>(5);
        if (self._node.EdgeIfStarted is { } edge)
        {
            EdgeCounters counters = edge.Counters;
            values.Add(new(counters.DroppedTooLargeForRing, Reason("host_too_large")));
            values.Add(new(counters.DroppedHostSlow, Reason("host_slow")));
            values.Add(new(counters.DroppedHostClosed, Reason("host_closed")));
        }

        if (self._node.RouterCountersIfStarted is { } router)
        {
            values.Add(new(router.Dropped, Reason("unroutable")));
            values.Add(new(router.Late, Reason("late_response")));
        }

        values.Add(new(self._corral.Counters.SpoofedSourceDropped, Reason("spoofed_source")));

        return values;
    });

    private IEnumerable<Measurement<long>> DecodeErrors() => Read(self =>
    {
        var values = new List<Measurement<long>>(2);
        if (self._node.EdgeIfStarted is { } edge)
        {
            values.Add(new(edge.Counters.MalformedFromHost, new KeyValuePair<string, object?>("source", "host")));
        }

        values.Add(new(self._corral.Counters[ConnectionFailure.BadFrame], new KeyValuePair<string, object?>("source", "network")));
        return values;
    });

    private IEnumerable<Measurement<long>> RingFill() => Read(self =>
    {
        if (self._node.EdgeIfStarted is not { } edge)
        {
            return [];
        }

        (long toHost, long fromHost) = edge.RingFill;
        return new Measurement<long>[] { new(toHost, RingToHost), new(fromHost, RingFromHost) };
    });

    private IEnumerable<Measurement<long>> RingCapacity() => Read(self =>
    {
        if (self._node.EdgeIfStarted is not { } edge)
        {
            return [];
        }

        (int toHost, int fromHost) = edge.RingCapacity;
        return new Measurement<long>[] { new(toHost, RingToHost), new(fromHost, RingFromHost) };
    });

    private IEnumerable<Measurement<long>> BlockedWaits() => Read(self =>
    {
        if (self._node.EdgeIfStarted is not { } edge)
        {
            return [];
        }

        (long read, long write) = edge.BlockedWaits;
        return new Measurement<long>[] { new(read, RingFromHost), new(write, RingToHost) };
    });

    private IEnumerable<Measurement<long>> HostQueue() => Read(self =>
        self._node.EdgeIfStarted is { } edge ? new Measurement<long>[] { new(edge.Counters.Queued) } : []);

    private IEnumerable<Measurement<long>> PeerConnections() => Read(self => new Measurement<long>[] { new(self._corral.Counters.ConnectionsOpen) });

    private IEnumerable<Measurement<long>> ConnectionAttempts() => Read(self => new Measurement<long>[]
    {
        new(self._corral.Counters.ConnectionAttempts, new KeyValuePair<string, object?>("direction", "outbound")),
        new(self._corral.Counters.ConnectionsAccepted, new KeyValuePair<string, object?>("direction", "inbound")),
    });

    private IEnumerable<Measurement<long>> ConnectionFailures() => Read(self =>
    {
        IReadOnlyList<ConnectionFailure> all = ConnectionFailureExtensions.All;
        var values = new Measurement<long>[all.Count];
        for (int i = 0; i < all.Count; i++)
        {
            values[i] = new(self._corral.Counters[all[i]], Reason(all[i].ToMetricName()));
        }

        return values;
    });

    private IEnumerable<Measurement<long>> PendingRequests() => Read(self =>
        self._node.RouterCountersIfStarted is null ? [] : new Measurement<long>[] { new(self._node.PendingRequests) });

    private IEnumerable<Measurement<long>> HostExitCode() => Read(self =>
        self._node.HostExitCode is { } code ? new Measurement<long>[] { new(code) } : []);

    private IEnumerable<Measurement<long>> Router(Func<RouterCounters, long> read) => Read(self =>
        self._node.RouterCountersIfStarted is { } router ? new Measurement<long>[] { new(read(router)) } : []);

    private IEnumerable<Measurement<long>> Read(Func<ObservedCounters, IEnumerable<Measurement<long>>> read)
    {
        lock (_gate)
        {
            return _detached ? [] : read(this);
        }
    }

    private static KeyValuePair<string, object?> Reason(string reason) => new("reason", reason);
}
