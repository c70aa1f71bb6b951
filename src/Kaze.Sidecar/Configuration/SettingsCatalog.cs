namespace Kaze.Sidecar.Configuration;

/// <summary>One setting: its path in the configuration (kaze.json keys joined by ':'), its default, and what it does.</summary>
public sealed record SettingInfo(string Path, string? Default, string Description)
{
    /// <summary>The environment variable that sets it: KAZE_ then the path with ':' as "__", upper case.</summary>
    public string EnvironmentVariable => "KAZE_" + Path.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();
}

/// <summary>
/// Every setting kaze knows, in one place: the defaults layer of the configuration, the text of
/// `kaze config dump`, and the names validation errors use all come from here.
/// </summary>
public static class SettingsCatalog
{
    /// <summary>All settings, in the order `kaze config dump` prints them.</summary>
    public static IReadOnlyList<SettingInfo> All { get; } =
    [
        new("ident", "0.0.0.1", "This node's ident, a dotted quad (0.0.0.1 = 1)."),
        new("listen", "127.0.0.1:6081", "Where this sidecar accepts other sidecars, HOST:PORT (port 0: any free port); \"off\" for none. The default accepts only connections from this machine; give an outside address (e.g. 0.0.0.0:6081) to accept others. If the default port is taken (another kaze), kaze warns and runs on without accepting."),
        new("nodes", null, "Static peers: an object of ident → HOST:PORT, e.g. { \"0.0.0.2\": \"127.0.0.1:7102\" }."),
        new("secretFile", null, "A file holding the mesh's shared secret; peers must prove they know it (HMAC-SHA256 over a random challenge). Unset: no authentication."),
        new("channel:name", null, "The channel's name; its file is /dev/shm/kaze-NAME. Unset: <ident>-<pid of kaze>."),
        new("channel:ringSize", "1MiB", "Bytes in each ring of the channel, a power of two from 64 to 1GiB."),
        new("run:grace", "5s", "How long the host has to exit after kaze asks it to, before SIGKILL."),
        new("corral:handshakeTimeout", "5s", "A connection that has not completed its handshake by then is closed."),
        new("corral:connectTimeout", "3s", "How long connecting to a peer may take."),
        new("corral:idleTimeout", "60s", "A connection with no traffic for this long is closed (reopened on the next packet)."),
        new("corral:reconnectMin", "100ms", "First wait before reconnecting to a peer that failed; doubles each failure."),
        new("corral:reconnectMax", "10s", "Longest wait before reconnecting."),
        new("corral:maxFrameSize", "16MiB", "Largest TCP frame accepted from a peer; larger closes the connection."),
        new("corral:maxQueuedPackets", "10000", "Packets queued per peer before further ones are refused (RET_RESOURCE_EXHAUSTED)."),
        new("log:level", "warn", "kaze's log level, for every area without one of its own in log:levels: trace, debug, info, warn, error, critical, off."),
        new("log:levels", null, "Levels per area: an object of category prefix → level, e.g. { \"Kaze.Mesh\": \"debug\", \"Host\": \"info\" }; the longest matching prefix wins (whole dotted segments, any case). The host's own records (log forwarding) are in \"Host.<its category>\"."),
        new("log:format", "text", "Log lines on stderr and in the file: text (readable) or json (one JSON object per line, CLEF: @t, @l, @m, @x, then the properties)."),
        new("log:file", null, "Also write the log to this file, rolled over (see log:rollingInterval, log:fileSizeLimit, log:retainedFiles); relative to the working directory. None: stderr only."),
        new("log:rollingInterval", "day", "When the log file rolls over: infinite, year, month, day, hour or minute; the period is appended to the file's name (kaze.log → kaze20250102.log)."),
        new("log:fileSizeLimit", "100MiB", "A log file that reaches this size rolls over to the next (kaze_001.log…)."),
        new("log:retainedFiles", "7", "Log files kept, the current one included; older ones are deleted."),
        new("metrics:listen", "127.0.0.1:9464", "Where /metrics is served (Prometheus text format), HOST:PORT; port 0 picks a free port; \"off\" for none. Only loopback unless told otherwise."),
        new("metrics:otlpEndpoint", null, "An OpenTelemetry collector to push metrics to, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318/v1/metrics (http/protobuf). None: no OTLP export."),
        new("metrics:otlpProtocol", "grpc", "The OTLP protocol: grpc or http/protobuf."),
        new("metrics:otlpInterval", "60s", "Time between two OTLP exports (a last one is made when kaze stops)."),
        new("rateLimits:total", null, "One token bucket for every packet entering this sidecar, from its host or the network (never responses): { \"permitsPerSecond\": N, \"burst\": N (default: one second's permits), \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION (wait mode only, default 100ms) }. Over it a request is answered RET_RESOURCE_EXHAUSTED, a notify dropped. None: no limit."),
        new("rateLimits:perSource", null, "A bucket per source ident (the sending node; this node for its own host), each with this rule (same shape as rateLimits:total)."),
        new("rateLimits:perBodyType", null, "Buckets per body type: an object of body type → rule (same shape as rateLimits:total); \"*\" gives every body type not listed a bucket of its own with that rule."),
        new("rateLimits:maxPartitions", "10000", "Most buckets kept for perSource, and for perBodyType \"*\"; past that, idle buckets are dropped and newcomers share one bucket."),
        new("plugins", null, "Third-party plugins: an object of name → { \"assembly\": PATH of the plugin's .dll, \"type\": its plugin class (only if the assembly has several), \"order\": position among plugins (default 0, then by name), …the plugin's own settings }. See docs/plugins.md."),
    ];

    /// <summary>The defaults as configuration key/value pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults
    {
        get
        {
            // A plain loop, not LINQ: this runs at every start, and each LINQ shape over key/value
            // pairs is compiled on the spot (it cannot be precompiled).
            var defaults = new List<KeyValuePair<string, string?>>(All.Count);
            foreach (SettingInfo setting in All)
            {
                if (setting.Default is not null)
                {
                    defaults.Add(new KeyValuePair<string, string?>(setting.Path, setting.Default));
                }
            }

            return defaults;
        }
    }
}
