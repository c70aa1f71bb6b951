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
        new("listen", "127.0.0.1:6081", "Where this sidecar accepts other sidecars, HOST:PORT; \"off\" for none. Only loopback unless told otherwise."),
        new("nodes", null, "Static peers: an object of ident → HOST:PORT, e.g. { \"0.0.0.2\": \"127.0.0.1:7102\" }."),
        new("secretFile", null, "A file holding the mesh's shared secret; peers must prove they know it (HMAC-SHA256 over a random challenge). None: no authentication."),
        new("channel:name", null, "The channel's name; its file is /dev/shm/kaze-NAME. Default: <ident>-<pid of kaze>."),
        new("channel:ringSize", "1MiB", "Bytes in each ring of the channel, a power of two from 64 to 1GiB."),
        new("run:grace", "5s", "How long the host has to exit after kaze asks it to, before SIGKILL."),
        new("corral:handshakeTimeout", "5s", "A connection that has not completed its handshake by then is closed."),
        new("corral:connectTimeout", "3s", "How long connecting to a peer may take."),
        new("corral:idleTimeout", "60s", "A connection with no traffic for this long is closed (reopened on the next packet)."),
        new("corral:reconnectMin", "100ms", "First wait before reconnecting to a peer that failed; doubles each failure."),
        new("corral:reconnectMax", "10s", "Longest wait before reconnecting."),
        new("corral:maxFrameSize", "16MiB", "Largest TCP frame accepted from a peer; larger closes the connection."),
        new("corral:maxQueuedPackets", "10000", "Packets queued per peer before further ones are refused (RET_RESOURCE_EXHAUSTED)."),
        new("log:level", "warn", "kaze's own log level: trace, debug, info, warn, error."),
    ];

    /// <summary>The defaults as configuration key/value pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults =>
        All.Where(s => s.Default is not null).Select(s => new KeyValuePair<string, string?>(s.Path, s.Default));
}
