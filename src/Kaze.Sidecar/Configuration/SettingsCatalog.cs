using Kaze.Mesh.Tls;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Mesh;
using Kaze.Sidecar.Logging;
using Kaze.Sidecar.Plugins;
using Kaze.Sidecar.RateLimiting;
using Microsoft.Extensions.Logging;
using static Kaze.Sidecar.Configuration.SettingKinds;

namespace Kaze.Sidecar.Configuration;

/// <summary>A group of settings under one key of kaze.json ("corral", "log"…), with a line that says what it is about.</summary>
/// <param name="Name">The key.</param>
/// <param name="Description">What its settings are about.</param>
public sealed record SettingsSection(string Name, string Description);

/// <summary>
/// Every setting kaze has, each declared once: its path, its default, what it does and what values
/// it takes (<see cref="Setting{T}"/>). Everything else derives from this list: the defaults layer of
/// the configuration, the KAZE_* environment layer, <see cref="KazeSettings.Read"/> (binding and
/// validation at start, and <c>kaze config check</c>), <c>kaze config dump</c>, the flags' help texts,
/// and the JSON schema of kaze.json (<c>kaze config schema</c>).
/// </summary>
/// <remarks>
/// To add a setting: declare it below (path, default text, description, kind), add it to
/// <see cref="All"/> in the place <c>config dump</c> should print it, and read it where it is used
/// with <c>settings.Get(SettingsCatalog.X)</c>. Nothing else: unknown keys, wrong types, did-you-mean,
/// the environment variable, the dump, the check and the schema come with the declaration. A new
/// section (a new first key) goes into <see cref="Sections"/> too.
/// </remarks>
public static class SettingsCatalog
{
    /// <summary>The key a kaze.json may use to name its JSON schema (for editors); kaze ignores it.</summary>
    public const string SchemaKey = "$schema";

    /// <summary>The sections (first keys that group settings), in the order <c>config dump</c> prints them.</summary>
    public static IReadOnlyList<SettingsSection> Sections { get; } =
    [
        new("channel", "The shared-memory channel between `kaze run` and its host program."),
        new("run", "How `kaze run` supervises the host program."),
        new("http", "HTTP and gRPC apps on the mesh (kaze run only; docs/http.md)."),
        new("corral", "The TCP connections between this sidecar and other sidecars."),
        new("discovery", "Finding other sidecars through etcd, and registering this one there (docs/discovery.md)."),
        new("tls", "Mutual TLS between sidecars (docs/security.md)."),
        new("log", "kaze's own log lines."),
        new("metrics", "The sidecar's metrics."),
        new("rateLimits", "Limits on the packets entering this sidecar."),
    ];

    /// <summary>This node's ident.</summary>
    public static readonly Setting<Ident> Ident = new(
        "ident", "0.0.0.1", "This node's ident, a dotted quad (0.0.0.1 = 1); not 0.0.0.0, which means \"this node's host\" as a destination.",
        SettingKinds.Ident(allowAny: false));

    /// <summary>Where this sidecar accepts other sidecars; null for "off".</summary>
    public static readonly Setting<NodeAddress?> Listen = new(
        "listen", "127.0.0.1:6081",
        "Where this sidecar accepts other sidecars, HOST:PORT (port 0: any free port); \"off\" for none. The default accepts only connections from this machine; give an outside address (e.g. 0.0.0.0:6081) to accept others. If the default port is taken (another kaze), kaze warns and runs on without accepting.",
        ListenAddress());

    /// <summary>Static peers.</summary>
    public static readonly Setting<IReadOnlyList<KeyValuePair<Ident, StaticNode>>> Nodes = new(
        "nodes", null, "Static peers: an object of ident → HOST:PORT, or HOST:PORT/NAME[,NAME…] to give the node service names, e.g. { \"0.0.0.2\": \"127.0.0.1:7102\", \"0.0.0.3\": \"127.0.0.1:7103/orders\" }.",
        new MapShape<Ident, StaticNode>("ident → HOST:PORT[/NAME,…], e.g. { \"0.0.0.2\": \"127.0.0.1:7102/orders\" }", SettingKinds.Ident(allowAny: false).TryParse, new() { ["pattern"] = IdentPattern }, StaticNodeValue()));

    /// <summary>The most names a node has (an etcd entry holds at most 32).</summary>
    public const int MaxNames = 32;

    /// <summary>This node's service names.</summary>
    public static readonly Setting<IReadOnlyList<string>> Names = new(
        "names", null,
        "This node's service names: hosts elsewhere call it by any of them (KazeRoute.Name, kaze send --to NAME). Each 1-63 characters of a-z 0-9 . -; a list, or one string with the names separated by commas. Registered in etcd with the node (discovery:etcd:endpoints); without etcd only this node and static nodes entries know them.",
        new ListShape<string>("service names, e.g. [\"orders\", \"billing\"] or \"orders,billing\"", SettingKinds.ServiceName(), MaxNames));

    /// <summary>The mesh's shared secret, read from its file.</summary>
    public static readonly Setting<SecretFile?> SecretFile = new(
        "secretFile", null,
        "A file holding the mesh's shared secret (mode 0600 or stricter: not readable by other users; 1 byte to 64 KiB; trailing line breaks are dropped); peers must prove they know it (HMAC-SHA256 over a random challenge). Unset: no authentication.",
        Secret());

    /// <summary>The node's TLS directory, loaded.</summary>
    public static readonly Setting<TlsCredentials?> TlsDir = new(
        "tls:dir", null,
        "A TLS directory made by `kaze cert issue`: ca.crt (the mesh CA, the only one trusted), node.crt (this node's certificate, which binds its ident) and node.key (mode 0600). With it every connection between sidecars, in and out, is TLS 1.3 with client certificates, a peer's ident is the one in its certificate, and the files are reloaded when they change. Unset: plaintext (one trusted machine only). See docs/security.md.",
        SettingKinds.TlsDirectory());

    /// <summary>The channel's name; null for the default.</summary>
    public static readonly Setting<string?> ChannelName = new(
        "channel:name", null, "The channel's name; its file is /dev/shm/kaze-NAME. Unset: <ident>-<pid of kaze>.", SettingKinds.ChannelName());

    /// <summary>Bytes in each ring.</summary>
    public static readonly Setting<long> RingSize = new(
        "channel:ringSize", "1MiB", "Bytes in each ring of the channel, a power of two from 64 to 1GiB.",
        Size(Kaze.Core.ChannelOptions.MinCapacity, Kaze.Core.ChannelOptions.MaxCapacity, powerOfTwo: true));

    /// <summary>How long the host has to exit after kaze asks it to.</summary>
    public static readonly Setting<TimeSpan> Grace = new(
        "run:grace", "5s", "How long the host has to exit after kaze asks it to, before SIGKILL (0 to 24d).", Duration(TimeSpan.Zero, MaxTimer));

    /// <summary>The app's HTTP port on 127.0.0.1; null: no ingress.</summary>
    public static readonly Setting<int?> HttpAppPort = new(
        "http:appPort", null, "The host's own HTTP port on 127.0.0.1 (kaze run only): HTTP exchanges that reach this node over the mesh are forwarded there (docs/http.md). None: such requests get a 502.",
        Int(1, 65535));

    /// <summary>The loopback port the host calls the mesh through; null: none.</summary>
    public static readonly Setting<int?> HttpPort = new(
        "http:port", null, "A port on 127.0.0.1 (0: any free one) where the host calls other nodes' HTTP apps, http://127.0.0.1:PORT/<ident>/<path>; given to the host as KAZE_HTTP_PORT (kaze run only). None: no such port.",
        Int(0, 65535));

    /// <summary>The wait for a response head, and the longest pause in a body.</summary>
    public static readonly Setting<TimeSpan> HttpTimeout = new(
        "http:timeout", "100s", "The longest wait for an HTTP response's head (then 504), and the longest pause in a body transfer (then the exchange is aborted); 1ms to 24d.", Timeout());

    /// <summary>Flow-control window per exchange and direction.</summary>
    public static readonly Setting<long> HttpWindow = new(
        "http:window", "1MiB", "Body bytes one side of an HTTP exchange may send ahead of the other side's reader (flow control), per exchange and direction, at most (see http:bufferBudget); 1KiB to 64MiB.",
        Size(1024, 64L << 20, powerOfTwo: false));

    /// <summary>Flow-control windows of all open bodies together.</summary>
    public static readonly Setting<long> HttpBufferBudget = new(
        "http:bufferBudget", "64MiB", "Body bytes the gateway lets other sides send ahead of its readers, all HTTP exchanges together: with many bodies open each one's window is this shared among them (at least 64KiB, at most http:window); 1MiB to 4GiB.",
        Size(1L << 20, 4L << 30, powerOfTwo: false));

    /// <summary>HTTP exchanges in flight, each way.</summary>
    public static readonly Setting<int> HttpMaxExchanges = new(
        "http:maxExchanges", "256", "HTTP exchanges in flight at once through http:port, and, separately, from the mesh to the app; past it 503 (http:port) or 429 (the caller).", Int(1, 100_000));

    /// <summary>The largest request body through http:port; null: no limit.</summary>
    public static readonly Setting<long?> HttpMaxRequestBodySize = new(
        "http:maxRequestBodySize", null, "The largest request body http:port takes (413 beyond it). None: no limit (bodies are streamed, never held whole).",
        Size(0, long.MaxValue, powerOfTwo: false));

    /// <summary>The largest body of a single-packet exchange.</summary>
    public static readonly Setting<long> HttpMaxCallBodySize = new(
        "http:maxCallBodySize", "256KiB", "The largest body of a single-packet HTTP exchange: a Kaze-Body-Type call's request, the response to an `http` packet; 1KiB to 16MiB (keep it below the callers' ring record limit).",
        Size(1024, 16L << 20, powerOfTwo: false));

    /// <summary>The HTTP version spoken to the app: "auto", "http1" or "http2".</summary>
    public static readonly Setting<string> HttpAppProtocol = new(
        "http:appProtocol", "auto", "The HTTP version spoken to the app: auto (HTTP/2 for an HTTP/2 client, e.g. gRPC; else HTTP/1.1), http1, or http2 (cleartext, prior knowledge).",
        Choice(("auto", "auto"), ("http1", "http1"), ("http2", "http2")));

    /// <summary>Handshake timeout of the corral.</summary>
    public static readonly Setting<TimeSpan> HandshakeTimeout = new(
        "corral:handshakeTimeout", "5s", "A connection that has not completed its handshake by then is closed.", Timeout());

    /// <summary>Connect timeout of the corral.</summary>
    public static readonly Setting<TimeSpan> ConnectTimeout = new(
        "corral:connectTimeout", "3s", "How long connecting to a peer may take.", Timeout());

    /// <summary>Idle timeout of the corral.</summary>
    public static readonly Setting<TimeSpan> IdleTimeout = new(
        "corral:idleTimeout", "60s", "A connection with no traffic for this long is closed (reopened on the next packet).", Timeout());

    /// <summary>First reconnect backoff.</summary>
    public static readonly Setting<TimeSpan> ReconnectMin = new(
        "corral:reconnectMin", "100ms", "First wait before reconnecting to a peer that failed; doubles each failure.", Timeout());

    /// <summary>Longest reconnect backoff.</summary>
    public static readonly Setting<TimeSpan> ReconnectMax = new(
        "corral:reconnectMax", "10s", "Longest wait before reconnecting; at least corral:reconnectMin.", Timeout());

    /// <summary>Largest TCP frame accepted.</summary>
    public static readonly Setting<long> MaxFrameSize = new(
        "corral:maxFrameSize", "16MiB", $"Largest TCP frame accepted from a peer, from {FormatSize(CorralOptions.MinMaxFrameSize)} to {FormatSize(TcpFraming.MaxSupportedFrameSize)}; larger closes the connection.",
        Size(CorralOptions.MinMaxFrameSize, TcpFraming.MaxSupportedFrameSize, powerOfTwo: false));

    /// <summary>Packets queued per peer.</summary>
    public static readonly Setting<int> MaxQueuedPackets = new(
        "corral:maxQueuedPackets", "10000", "Packets queued per peer before further ones are refused (RET_RESOURCE_EXHAUSTED).", Int(1, int.MaxValue));

    /// <summary>The etcd members; empty: no etcd.</summary>
    public static readonly Setting<IReadOnlyList<Uri>> EtcdEndpoints = new(
        "discovery:etcd:endpoints", null,
        "Client URLs of the etcd members (http:// or https://, all the same), a list or one string separated by commas, e.g. \"http://10.0.0.1:2379,http://10.0.0.2:2379\". Set: this sidecar registers its ident, address and names there under a lease, and finds other sidecars there. None: no etcd.",
        new ListShape<Uri>("etcd client URLs, e.g. [\"http://127.0.0.1:2379\"]", SettingKinds.EtcdUrl(), 32));

    /// <summary>The key prefix in etcd.</summary>
    public static readonly Setting<string> EtcdPrefix = new(
        "discovery:etcd:prefix", "/kaze", "The key prefix in etcd: a node's entry is <prefix>/nodes/<ident>. Sidecars that should find each other use the same one.",
        SettingKinds.EtcdPrefix());

    /// <summary>The lease of this node's entry.</summary>
    public static readonly Setting<TimeSpan> EtcdTtl = new(
        "discovery:etcd:ttl", "10s", "The lease of this node's entry, whole seconds from 2s to 1h: how long the entry outlives a sidecar that died (a clean exit removes it at once). Renewed every third of it.",
        Duration(TimeSpan.FromSeconds(2), TimeSpan.FromHours(1)));

    /// <summary>How long one etcd request may take.</summary>
    public static readonly Setting<TimeSpan> EtcdRequestTimeout = new(
        "discovery:etcd:requestTimeout", "5s", "How long one request to etcd may take, connecting included (the first read at start among them); 1ms to 10m.",
        Duration(TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10)));

    /// <summary>The etcd user.</summary>
    public static readonly Setting<string?> EtcdUsername = new(
        "discovery:etcd:username", null, "The etcd user, when etcd has authentication on (needs discovery:etcd:passwordFile). None: no authentication.",
        Text("a user name", text => text.Length == 0 ? "an empty user name" : null));

    /// <summary>The etcd user's password, read from its file.</summary>
    public static readonly Setting<SecretFile?> EtcdPasswordFile = new(
        "discovery:etcd:passwordFile", null, "A file holding the etcd user's password (mode 0600 or stricter; trailing line breaks are dropped).",
        Secret());

    /// <summary>CA certificates of etcd's server certificates.</summary>
    public static readonly Setting<string?> EtcdCaFile = new(
        "discovery:etcd:caFile", null, "A PEM file of the certificate authorities that sign etcd's server certificates (https:// endpoints). None: the system's store.",
        ExistingFile());

    /// <summary>Client certificate for etcd.</summary>
    public static readonly Setting<string?> EtcdCertFile = new(
        "discovery:etcd:certFile", null, "A PEM client certificate for etcd's client certificate authentication (https:// endpoints; needs discovery:etcd:keyFile).",
        ExistingFile());

    /// <summary>Private key of the client certificate.</summary>
    public static readonly Setting<string?> EtcdKeyFile = new(
        "discovery:etcd:keyFile", null, "The PEM private key of discovery:etcd:certFile.",
        ExistingFile());

    /// <summary>The address registered for other sidecars to dial.</summary>
    public static readonly Setting<NodeAddress?> Advertise = new(
        "discovery:advertise", null,
        "The address other sidecars dial to reach this one, HOST:PORT, as registered in etcd. None: the listen address with the port actually bound (a wildcard listen address such as 0.0.0.0 then needs this).",
        Address());

    /// <summary>Connections at most.</summary>
    public static readonly Setting<int> MaxConnections = new(
        "corral:maxConnections", "4096", "Connections with other sidecars at most, either direction, handshaking ones included; an inbound one past it is closed at accept (counted as connection_limit).", Int(1, 1_000_000));

    /// <summary>Inbound connections in their handshake at most.</summary>
    public static readonly Setting<int> MaxHandshaking = new(
        "corral:maxHandshaking", "128", "Inbound connections still in their handshake at most; one past it is closed at accept (counted as handshake_limit).", Int(1, 1_000_000));

    /// <summary>Time for a started frame to arrive.</summary>
    public static readonly Setting<TimeSpan> FrameTimeout = new(
        "corral:frameTimeout", "10s", "A frame whose first bytes arrived must be complete within this, else the connection is closed (slow_frame): trickling holds nothing.", Timeout());

    /// <summary>Receive memory for large frames, all connections together.</summary>
    public static readonly Setting<long> ReceiveBudget = new(
        "corral:receiveBudget", "256MiB", "Receive buffers for frames over 64 KiB, all connections together (each connection's own limit is corral:maxFrameSize); a frame that does not fit closes its connection (receive_budget). Each buffer goes back to the system once its frame is decoded.",
        Size(0, 1L << 40, powerOfTwo: false));

    /// <summary>kaze's log level.</summary>
    public static readonly Setting<LogLevel> LogLevelSetting = new(
        "log:level", "warn", $"kaze's log level, for every area without one of its own in log:levels: {LogSettings.LevelChoices}.", Level());

    /// <summary>Log levels per area.</summary>
    public static readonly Setting<IReadOnlyList<KeyValuePair<string, LogLevel>>> LogLevels = new(
        "log:levels", null,
        "Levels per area: an object of category prefix → level, e.g. { \"Kaze.Mesh\": \"debug\", \"Host\": \"info\" }; the longest matching prefix wins (whole dotted segments, any case). The host's own records (log forwarding) are in \"Host.<its category>\".",
        new MapShape<string, LogLevel>("category prefix → level, e.g. { \"Host\": \"info\" }", NonEmpty, new() { ["minLength"] = 1 }, Level()));

    /// <summary>Text or JSON log lines.</summary>
    public static readonly Setting<LogFormat> LogFormatSetting = new(
        "log:format", "text", "Log lines on stderr and in the file: text (readable) or json (one JSON object per line, CLEF: @t, @l, @m, @x, then the properties).",
        Choice(("text", LogFormat.Text), ("json", LogFormat.Json)));

    /// <summary>The log file, if any.</summary>
    public static readonly Setting<string?> LogFile = new(
        "log:file", null, "Also write the log to this file, rolled over (see log:rollingInterval, log:fileSizeLimit, log:retainedFiles); relative to the working directory. None: stderr only.",
        OutputFile());

    /// <summary>When the log file rolls over.</summary>
    public static readonly Setting<LogRollingInterval> LogRollingIntervalSetting = new(
        "log:rollingInterval", "day", "When the log file rolls over: infinite, year, month, day, hour or minute; the period is appended to the file's name (kaze.log → kaze20250102.log).",
        Choice(("infinite", LogRollingInterval.Infinite), ("year", LogRollingInterval.Year), ("month", LogRollingInterval.Month), ("day", LogRollingInterval.Day), ("hour", LogRollingInterval.Hour), ("minute", LogRollingInterval.Minute)));

    /// <summary>Size at which the log file rolls over.</summary>
    public static readonly Setting<long> LogFileSizeLimit = new(
        "log:fileSizeLimit", "100MiB", "A log file that reaches this size rolls over to the next (kaze_001.log…); 1KiB or more.", Size(1024, 1L << 40, powerOfTwo: false));

    /// <summary>Log files kept.</summary>
    public static readonly Setting<int> LogRetainedFiles = new(
        "log:retainedFiles", "7", "Log files kept, the current one included; older ones are deleted.", Int(1, 100_000));

    /// <summary>Where /metrics is served; null for "off".</summary>
    public static readonly Setting<NodeAddress?> MetricsListen = new(
        "metrics:listen", "127.0.0.1:9464", "Where /metrics is served (Prometheus text format), HOST:PORT; port 0 picks a free port; \"off\" for none. Only loopback unless told otherwise.",
        ListenAddress());

    /// <summary>The OTLP collector, if any.</summary>
    public static readonly Setting<Uri?> OtlpEndpoint = new(
        "metrics:otlpEndpoint", null, "An OpenTelemetry collector to push metrics to, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318/v1/metrics (http/protobuf). None: no OTLP export.",
        HttpUrl());

    /// <summary>The OTLP protocol: true for http/protobuf, false for grpc.</summary>
    public static readonly Setting<bool> OtlpHttp = new(
        "metrics:otlpProtocol", "grpc", "The OTLP protocol: grpc or http/protobuf.", Choice(("grpc", false), ("http/protobuf", true)));

    /// <summary>Time between OTLP exports.</summary>
    public static readonly Setting<TimeSpan> OtlpInterval = new(
        "metrics:otlpInterval", "60s", "Time between two OTLP exports (a last one is made when kaze stops); 100ms to 24d.", Duration(TimeSpan.FromMilliseconds(100), MaxTimer));

    /// <summary>One bucket for everything limited.</summary>
    internal static readonly Setting<RateLimitRule?> RateLimitTotal = new(
        "rateLimits:total", null,
        "One token bucket for every packet entering this sidecar, from its host or the network (never responses): { \"permitsPerSecond\": N, \"burst\": N (default: one second's permits), \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION (wait mode only, default 100ms) }. Over it a request is answered RET_RESOURCE_EXHAUSTED, a notify dropped. None: no limit.",
        RateLimitOptions.RuleShape);

    /// <summary>One bucket per source ident.</summary>
    internal static readonly Setting<RateLimitRule?> RateLimitPerSource = new(
        "rateLimits:perSource", null, "A bucket per source ident (the sending node; this node for its own host), each with this rule (same shape as rateLimits:total).",
        RateLimitOptions.RuleShape);

    /// <summary>Buckets per body type.</summary>
    internal static readonly Setting<IReadOnlyList<KeyValuePair<string, RateLimitRule>>> RateLimitPerBodyType = new(
        "rateLimits:perBodyType", null,
        "Buckets per body type: an object of body type → rule (same shape as rateLimits:total); \"*\" gives every body type not listed a bucket of its own with that rule.",
        new MapShape<string, RateLimitRule>("body type → rule, e.g. { \"echo\": { \"permitsPerSecond\": 100 }, \"*\": { \"permitsPerSecond\": 1000 } }", NonEmpty, new() { ["minLength"] = 1 }, RateLimitOptions.RuleShape));

    /// <summary>Most buckets kept per partitioned rule.</summary>
    public static readonly Setting<int> RateLimitMaxPartitions = new(
        "rateLimits:maxPartitions", "10000", "Most buckets kept for perSource, and for perBodyType \"*\"; past that, idle buckets are dropped and newcomers share one bucket.", Int(1, int.MaxValue));

    /// <summary>Third-party plugins.</summary>
    public static readonly Setting<IReadOnlyList<KeyValuePair<string, PluginEntry>>> Plugins = new(
        "plugins", null,
        "Third-party plugins: an object of name → { \"assembly\": PATH of the plugin's .dll, \"type\": its plugin class (only if the assembly has several), \"order\": position among plugins (default 0, then by name), …the plugin's own settings }. See docs/plugins.md.",
        new MapShape<string, PluginEntry>("plugin name → { \"assembly\": PATH, … }", PluginName, new() { ["minLength"] = 1 }, PluginEntry.Shape));

    /// <summary>All settings, in the order `kaze config dump` prints them.</summary>
    public static IReadOnlyList<Setting> All { get; } =
    [
        Ident, Listen, Nodes, Names, SecretFile, TlsDir,
        ChannelName, RingSize,
        Grace,
        HttpAppPort, HttpPort, HttpTimeout, HttpWindow, HttpBufferBudget, HttpMaxExchanges, HttpMaxRequestBodySize, HttpMaxCallBodySize, HttpAppProtocol,
        HandshakeTimeout, ConnectTimeout, IdleTimeout, ReconnectMin, ReconnectMax, MaxFrameSize, MaxQueuedPackets,
        MaxConnections, MaxHandshaking, FrameTimeout, ReceiveBudget,
        EtcdEndpoints, EtcdPrefix, EtcdTtl, EtcdRequestTimeout, EtcdUsername, EtcdPasswordFile, EtcdCaFile, EtcdCertFile, EtcdKeyFile, Advertise,
        LogLevelSetting, LogLevels, LogFormatSetting, LogFile, LogRollingIntervalSetting, LogFileSizeLimit, LogRetainedFiles,
        MetricsListen, OtlpEndpoint, OtlpHttp, OtlpInterval,
        RateLimitTotal, RateLimitPerSource, RateLimitPerBodyType, RateLimitMaxPartitions,
        Plugins,
    ];

    /// <summary>
    /// Variables named KAZE_* that are not settings although their first part looks like one: what
    /// <c>kaze run</c> gives its host (KAZE_CHANNEL, KAZE_SIDECAR_PID) and process tuning read where
    /// it applies (KAZE_SPIN_MAX_US). See <see cref="SettingsLoader.FromEnvironment(System.Collections.IDictionary)"/>.
    /// </summary>
    public static IReadOnlySet<string> NotSettingVariables { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "KAZE_CHANNEL", "KAZE_SIDECAR_PID", "KAZE_HTTP_PORT", Kaze.Core.Waiting.SpinBudget.MaxSpinVariable,
    };

    /// <summary>The defaults as configuration key/value pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults
    {
        get
        {
            // A plain loop, not LINQ: this runs at every start, and each LINQ shape over key/value
            // pairs is compiled on the spot (it cannot be precompiled).
            var defaults = new List<KeyValuePair<string, string?>>(All.Count);
            foreach (Setting setting in All)
            {
                if (setting.Default is not null)
                {
                    defaults.Add(new KeyValuePair<string, string?>(setting.Path, setting.Default));
                }
            }

            return defaults;
        }
    }

    /// <summary>The setting at <paramref name="path"/> (any case), or null.</summary>
    public static Setting? Find(string path)
    {
        foreach (Setting setting in All)
        {
            if (string.Equals(setting.Path, path, StringComparison.OrdinalIgnoreCase))
            {
                return setting;
            }
        }

        return null;
    }

    /// <summary>The section named <paramref name="name"/> (any case), or null.</summary>
    public static SettingsSection? FindSection(string name)
    {
        foreach (SettingsSection section in Sections)
        {
            if (string.Equals(section.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return section;
            }
        }

        return null;
    }

    /// <summary>KAZE_ then the path with ':' as "__", upper case: corral:idleTimeout → KAZE_CORRAL__IDLETIMEOUT.</summary>
    public static string EnvironmentVariableOf(string path) =>
        "KAZE_" + path.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();

    private static ValueShape<TimeSpan> Timeout() => Duration(TimeSpan.FromMilliseconds(1), MaxTimer);

    private static ValueShape<LogLevel> Level() => Choice(
        ("trace", LogLevel.Trace), ("debug", LogLevel.Debug), ("info", LogLevel.Information), ("warn", LogLevel.Warning),
        ("error", LogLevel.Error), ("critical", LogLevel.Critical), ("off", LogLevel.None),
        ("verbose", LogLevel.Trace), ("information", LogLevel.Information), ("warning", LogLevel.Warning), ("fatal", LogLevel.Critical), ("none", LogLevel.None));

    private static bool NonEmpty(string text, out string value, out string error)
    {
        value = text;
        error = text.Length == 0 ? "an empty key" : "";
        return text.Length > 0;
    }

    private static bool PluginName(string text, out string value, out string error)
    {
        value = text;
        error = "";
        if (FindSection(text) is not null || Find(text) is not null || string.Equals(text, LogForwardingPlugin.PluginName, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{text}' is the name of a built-in plugin or of one of kaze's own settings; give the plugin another name";
            return false;
        }

        return true;
    }
}
