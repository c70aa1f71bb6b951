using System.Globalization;
using Kaze.Core;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Configuration;

/// <summary>The effective settings after defaults, file, environment and flags, validated and typed.</summary>
public sealed record KazeSettings
{
    /// <summary>This node's ident.</summary>
    public Ident Ident { get; init; } = new(1);

    /// <summary>The listen address; null when listening is off.</summary>
    public NodeAddress? Listen { get; init; }

    /// <summary>True when the listen address is the built-in default (then a port in use is a warning, not a failure: another kaze on this machine has it).</summary>
    public bool ListenIsDefault { get; init; }

    /// <summary>Static peers.</summary>
    public IReadOnlyList<(Ident Ident, NodeAddress Address)> Nodes { get; init; } = [];

    /// <summary>The secret file's path, if any.</summary>
    public string? SecretFile { get; init; }

    /// <summary>Channel name, null for the default.</summary>
    public string? ChannelName { get; init; }

    /// <summary>Bytes per ring.</summary>
    public int RingSize { get; init; } = 1 << 20;

    /// <summary>Grace period for the host.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Handshake timeout.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Connect timeout.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Idle timeout.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First reconnect backoff.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest reconnect backoff.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest TCP frame.</summary>
    public int MaxFrameSize { get; init; } = 16 << 20;

    /// <summary>Packets queued per peer.</summary>
    public int MaxQueuedPackets { get; init; } = 10_000;

    /// <summary>kaze's log level name (trace, debug, info, warn, error, critical, off), as given.</summary>
    public string LogLevel { get; init; } = "warn";

    /// <summary>kaze's logging: levels (per area too), format, file.</summary>
    public LogSettings Log { get; init; } = new();

    /// <summary>The sidecar options these settings describe.</summary>
    public SidecarOptions ToSidecarOptions(bool withHost) => new()
    {
        Ident = Ident,
        ChannelName = ChannelName,
        Channel = new ChannelOptions { SidecarToHostCapacity = RingSize, HostToSidecarCapacity = RingSize },
        Grace = Grace,
        WithHost = withHost,
    };

    /// <summary>
    /// Reads and validates <paramref name="configuration"/>. Every problem is listed, each naming
    /// its key, the value and what is allowed; null settings when there is any.
    /// </summary>
    public static KazeSettings? Bind(IConfiguration configuration, out List<string> errors)
    {
        var problems = new List<string>();
        string Get(string key) => configuration[key] ?? "";

        Ident ident = default;
        if (!Ident.TryParse(Get("ident"), out ident, out string? identError))
        {
            problems.Add($"ident: {identError}");
        }

        NodeAddress? listen = null;
        string listenText = Get("listen");
        if (!string.Equals(listenText, "off", StringComparison.OrdinalIgnoreCase))
        {
            if (NodeAddress.TryParse(listenText, allowPortZero: true, out NodeAddress? parsed, out string listenError))
            {
                listen = parsed;
            }
            else
            {
                problems.Add($"listen: {listenError}, or \"off\"");
            }
        }

        var nodes = new List<(Ident, NodeAddress)>();
        foreach (IConfigurationSection node in configuration.GetSection("nodes").GetChildren())
        {
            if (!Ident.TryParse(node.Key, out Ident nodeIdent, out string? nodeError))
            {
                problems.Add($"nodes:{node.Key}: {nodeError}");
                continue;
            }

            if (!NodeAddress.TryParse(node.Value, out NodeAddress? address, out string addressError))
            {
                problems.Add($"nodes:{node.Key}: {addressError}");
                continue;
            }

            nodes.Add((nodeIdent, address.Value));
        }

        string? secretFile = configuration["secretFile"];
        if (secretFile is { Length: > 0 } && !File.Exists(secretFile))
        {
            problems.Add($"secretFile: '{secretFile}' does not exist");
        }

        string? channelName = configuration["channel:name"];
        if (channelName is { Length: > 0 } && !ShmChannel.IsValidName(channelName, out string nameError))
        {
            problems.Add($"channel:name: {nameError}");
        }

        int ringSize = Size("channel:ringSize", 64, 1 << 30, powerOfTwo: true);
        TimeSpan grace = Duration("run:grace");
        TimeSpan handshake = Duration("corral:handshakeTimeout", positive: true);
        TimeSpan connect = Duration("corral:connectTimeout", positive: true);
        TimeSpan idle = Duration("corral:idleTimeout", positive: true);
        TimeSpan reconnectMin = Duration("corral:reconnectMin", positive: true);
        TimeSpan reconnectMax = Duration("corral:reconnectMax", positive: true);
        if (reconnectMax < reconnectMin)
        {
            problems.Add($"corral:reconnectMax: {Get("corral:reconnectMax")} is less than corral:reconnectMin ({Get("corral:reconnectMin")})");
        }

        int maxFrame = Size("corral:maxFrameSize", 64, int.MaxValue - 4, powerOfTwo: false);
        int maxQueued = 0;
        if (!int.TryParse(Get("corral:maxQueuedPackets"), NumberStyles.None, CultureInfo.InvariantCulture, out maxQueued) || maxQueued < 1)
        {
            problems.Add($"corral:maxQueuedPackets: '{Get("corral:maxQueuedPackets")}' is not a whole number of at least 1");
        }

        string level = Get("log:level").ToLowerInvariant();
        LogSettings log = LogSettings.Bind(configuration, problems);

        errors = problems;
        if (problems.Count > 0)
        {
            return null;
        }

        return new KazeSettings
        {
            Ident = ident,
            Listen = listen,
            ListenIsDefault = listenText == SettingsCatalog.All.First(i => i.Path == "listen").Default,
            Nodes = nodes,
            SecretFile = string.IsNullOrEmpty(secretFile) ? null : secretFile,
            ChannelName = string.IsNullOrEmpty(channelName) ? null : channelName,
            RingSize = ringSize,
            Grace = grace,
            HandshakeTimeout = handshake,
            ConnectTimeout = connect,
            IdleTimeout = idle,
            ReconnectMin = reconnectMin,
            ReconnectMax = reconnectMax,
            MaxFrameSize = maxFrame,
            MaxQueuedPackets = maxQueued,
            LogLevel = level,
            Log = log,
        };

        TimeSpan Duration(string key, bool positive = false)
        {
            if (!SettingValues.TryParseDuration(Get(key), out TimeSpan value, out string error))
            {
                problems.Add($"{key}: {error}");
            }
            else if (positive && value <= TimeSpan.Zero)
            {
                problems.Add($"{key}: {Get(key)} must be more than 0");
            }

            return value;
        }

        int Size(string key, long min, long max, bool powerOfTwo)
        {
            if (!SettingValues.TryParseSize(Get(key), out long value, out string error))
            {
                problems.Add($"{key}: {error}");
                return 0;
            }

            if (value < min || value > max || (powerOfTwo && (value & (value - 1)) != 0))
            {
                problems.Add($"{key}: {Get(key)} must be {(powerOfTwo ? "a power of two " : "")}from {min} to {max} bytes");
                return 0;
            }

            return (int)value;
        }
    }
}
