using Kaze.Core;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Configuration;

/// <summary>
/// The effective settings after defaults, file, environment and flags: every setting of
/// <see cref="SettingsCatalog"/>, read and checked. Immutable; <see cref="With{T}"/> makes a copy
/// with one value changed (tests, embedding).
/// </summary>
public sealed class KazeSettings
{
    private static KazeSettings? s_defaults;

    // Every setting of the catalog → its value (null for an optional setting that is not set).
    private readonly Dictionary<Setting, object?> _values;

    private KazeSettings(Dictionary<Setting, object?> values) => _values = values;

    /// <summary>Every setting at its default.</summary>
    public static KazeSettings Defaults => s_defaults ??= Read(
        new ConfigurationBuilder().AddInMemoryCollection(SettingsCatalog.Defaults).Build(), out List<SettingProblem> problems)
        ?? throw new InvalidOperationException("The settings catalog's defaults are invalid: " + string.Join("; ", problems));

    /// <summary>This node's ident.</summary>
    public Ident Ident => Get(SettingsCatalog.Ident);

    /// <summary>The listen address; null when listening is off.</summary>
    public NodeAddress? Listen => Get(SettingsCatalog.Listen);

    /// <summary>True when the listen address is the built-in default (then a port in use is a warning, not a failure: another kaze on this machine has it).</summary>
    public bool ListenIsDefault => Equals(Listen, Defaults.Listen);

    /// <summary>Static peers.</summary>
    public IReadOnlyList<KeyValuePair<Ident, NodeAddress>> Nodes => [.. NodeEntries.Select(e => new KeyValuePair<Ident, NodeAddress>(e.Ident, e.Address))];

    /// <summary>Static peers with their service names, as resolver entries.</summary>
    public IReadOnlyList<NodeEntry> NodeEntries
    {
        get
        {
            IReadOnlyList<KeyValuePair<Ident, StaticNode>> nodes = Get(SettingsCatalog.Nodes) ?? [];
            var entries = new List<NodeEntry>(nodes.Count);
            foreach (KeyValuePair<Ident, StaticNode> node in nodes)
            {
                entries.Add(new NodeEntry(node.Key, node.Value.Address) { Names = node.Value.Names, Source = "nodes" });
            }

            return entries;
        }
    }

    /// <summary>This node's service names.</summary>
    public IReadOnlyList<string> Names => Get(SettingsCatalog.Names) ?? [];

    /// <summary>
    /// The etcd registry's options (discovery:etcd:*); null when no endpoint is set (no etcd).
    /// </summary>
    public Kaze.Resolver.Etcd.EtcdRegistryOptions? Etcd
    {
        get
        {
            IReadOnlyList<Uri> endpoints = Get(SettingsCatalog.EtcdEndpoints) ?? [];
            if (endpoints.Count == 0)
            {
                return null;
            }

            return new Kaze.Resolver.Etcd.EtcdRegistryOptions
            {
                Endpoints = [.. endpoints],
                Prefix = Get(SettingsCatalog.EtcdPrefix),
                Ttl = Get(SettingsCatalog.EtcdTtl),
                RequestTimeout = Get(SettingsCatalog.EtcdRequestTimeout),
                Username = Get(SettingsCatalog.EtcdUsername),
                Password = Get(SettingsCatalog.EtcdPasswordFile) is { } password ? System.Text.Encoding.UTF8.GetString(password.Secret) : null,
                TrustedCaFile = Get(SettingsCatalog.EtcdCaFile),
                ClientCertificateFile = Get(SettingsCatalog.EtcdCertFile),
                ClientKeyFile = Get(SettingsCatalog.EtcdKeyFile),
            };
        }
    }

    /// <summary>The TLS credentials (tls:dir), if any.</summary>
    public Kaze.Mesh.Tls.TlsCredentials? Tls => Get(SettingsCatalog.TlsDir);

    /// <summary>The secret file and the secret it holds, if any.</summary>
    public SecretFile? Secret => Get(SettingsCatalog.SecretFile);

    /// <summary>Channel name, null for the default.</summary>
    public string? ChannelName => Get(SettingsCatalog.ChannelName);

    /// <summary>Grace period for the host.</summary>
    public TimeSpan Grace => Get(SettingsCatalog.Grace);

    /// <summary>The HTTP gateway (http:*); off unless a port is set.</summary>
    public HttpSettings Http => new()
    {
        AppPort = Get(SettingsCatalog.HttpAppPort),
        Port = Get(SettingsCatalog.HttpPort),
        Timeout = Get(SettingsCatalog.HttpTimeout),
        Window = (int)Get(SettingsCatalog.HttpWindow),
        BufferBudget = Get(SettingsCatalog.HttpBufferBudget),
        MaxExchanges = Get(SettingsCatalog.HttpMaxExchanges),
        MaxRequestBodySize = Get(SettingsCatalog.HttpMaxRequestBodySize),
        MaxCallBodySize = (int)Get(SettingsCatalog.HttpMaxCallBodySize),
        AppProtocol = Get(SettingsCatalog.HttpAppProtocol),
    };

    /// <summary>kaze's logging: levels (per area too), format, file.</summary>
    public LogSettings Log => new()
    {
        Level = Get(SettingsCatalog.LogLevelSetting),
        Levels = Get(SettingsCatalog.LogLevels) ?? [],
        Format = Get(SettingsCatalog.LogFormatSetting),
        File = Get(SettingsCatalog.LogFile),
        RollingInterval = Get(SettingsCatalog.LogRollingIntervalSetting),
        FileSizeLimit = Get(SettingsCatalog.LogFileSizeLimit),
        RetainedFiles = Get(SettingsCatalog.LogRetainedFiles),
    };

    /// <summary>The value of <paramref name="setting"/>.</summary>
    public T Get<T>(Setting<T> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        return _values.TryGetValue(setting, out object? value) ? (T)value! : throw new ArgumentException($"'{setting.Path}' is not in the settings catalog.", nameof(setting));
    }

    /// <summary>A copy with <paramref name="setting"/> set to <paramref name="value"/> (not checked: the caller's value is taken as it is).</summary>
    public KazeSettings With<T>(Setting<T> setting, T value)
    {
        ArgumentNullException.ThrowIfNull(setting);
        if (!_values.ContainsKey(setting))
        {
            throw new ArgumentException($"'{setting.Path}' is not in the settings catalog.", nameof(setting));
        }

        return new KazeSettings(new Dictionary<Setting, object?>(_values) { [setting] = value });
    }

    /// <summary>The sidecar options these settings describe.</summary>
    public SidecarOptions ToSidecarOptions(bool withHost)
    {
        int ringSize = (int)Get(SettingsCatalog.RingSize);
        return new()
        {
            Ident = Ident,
            ChannelName = ChannelName,
            Channel = new ChannelOptions { SidecarToHostCapacity = ringSize, HostToSidecarCapacity = ringSize },
            Grace = Grace,
            WithHost = withHost,
            Names = Names,
        };
    }

    /// <summary>
    /// Reads and checks every setting of <paramref name="configuration"/> (the whole configuration,
    /// defaults included): each value against its setting's shape (type, range, and for files that
    /// they can be read), every key against the catalog (an unknown key is a problem, with the
    /// setting it most likely meant), and the rules between settings. Every problem is listed, each
    /// naming its key, the value and what is allowed. Null settings when there is any.
    /// </summary>
    public static KazeSettings? Read(IConfiguration configuration, out List<SettingProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var found = new SettingProblems();
        CheckKeys(configuration, found);
        var values = new Dictionary<Setting, object?>(SettingsCatalog.All.Count);
        foreach (Setting setting in SettingsCatalog.All)
        {
            values[setting] = setting.ReadBoxed(configuration, found);
        }

        var settings = new KazeSettings(values);
        if (found.Count == 0)
        {
            CheckRules(settings, found);
        }

        problems = found;
        return found.Count == 0 ? settings : null;
    }

    /// <summary>The rules between settings.</summary>
    private static void CheckRules(KazeSettings settings, SettingProblems problems)
    {
        TimeSpan min = settings.Get(SettingsCatalog.ReconnectMin);
        TimeSpan max = settings.Get(SettingsCatalog.ReconnectMax);
        if (max < min)
        {
            problems.Add(SettingsCatalog.ReconnectMax.Path, $"{SettingKinds.FormatDuration(max)} is less than corral:reconnectMin ({SettingKinds.FormatDuration(min)})");
        }

        CheckDiscoveryRules(settings, problems);

        // Peers take a node's ident from its certificate: a node must run as the ident it binds.
        if (settings.Tls is { } tls && tls.Current.Ident != settings.Ident)
        {
            problems.Add(SettingsCatalog.TlsDir.Path, $"the certificate in {tls.Directory} is for ident {tls.Current.Ident}, but this node's ident is {settings.Ident}: issue one for {settings.Ident} (kaze cert issue --ident {settings.Ident})");
        }
    }

    private static void CheckDiscoveryRules(KazeSettings settings, SettingProblems problems)
    {
        TimeSpan ttl = settings.Get(SettingsCatalog.EtcdTtl);
        if (ttl.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            problems.Add(SettingsCatalog.EtcdTtl.Path, $"{SettingKinds.FormatDuration(ttl)} is not a whole number of seconds (etcd leases are), e.g. 10s");
        }

        if ((settings.Get(SettingsCatalog.EtcdUsername) is null) != (settings.Get(SettingsCatalog.EtcdPasswordFile) is null))
        {
            problems.Add(SettingsCatalog.EtcdUsername.Path, "discovery:etcd:username and discovery:etcd:passwordFile go together: give both or neither");
        }

        if ((settings.Get(SettingsCatalog.EtcdCertFile) is null) != (settings.Get(SettingsCatalog.EtcdKeyFile) is null))
        {
            problems.Add(SettingsCatalog.EtcdCertFile.Path, "discovery:etcd:certFile and discovery:etcd:keyFile go together: give both or neither");
        }

        IReadOnlyList<Uri> endpoints = settings.Get(SettingsCatalog.EtcdEndpoints) ?? [];
        bool https = endpoints.Any(e => e.Scheme == Uri.UriSchemeHttps);
        bool http = endpoints.Any(e => e.Scheme == Uri.UriSchemeHttp);
        if (http && https)
        {
            problems.Add(SettingsCatalog.EtcdEndpoints.Path, $"'{string.Join(",", endpoints)}' mixes http:// and https:// URLs; every member is reached the same way");
        }

        bool tlsFiles = settings.Get(SettingsCatalog.EtcdCaFile) is not null || settings.Get(SettingsCatalog.EtcdCertFile) is not null;
        if (tlsFiles && !https)
        {
            problems.Add(SettingsCatalog.EtcdCaFile.Path, "TLS files for etcd are given, but discovery:etcd:endpoints has no https:// URL");
        }

        if (endpoints.Count > 0 && settings.Get(SettingsCatalog.Advertise) is null && settings.Listen is { } listen && IsWildcard(listen.Host))
        {
            problems.Add(SettingsCatalog.Advertise.Path, $"not set, and listen is '{listen}', which other sidecars cannot dial; give the address they should use, e.g. --advertise 10.0.0.5:{listen.Port}");
        }
    }

    private static bool IsWildcard(string host) =>
        System.Net.IPAddress.TryParse(host, out System.Net.IPAddress? ip) && (ip.Equals(System.Net.IPAddress.Any) || ip.Equals(System.Net.IPAddress.IPv6Any));

    /// <summary>Every key must be a setting, a section of settings, or inside an object-valued setting (whose shape checks it).</summary>
    private static void CheckKeys(IConfiguration configuration, SettingProblems problems)
    {
        foreach (IConfigurationSection top in configuration.GetChildren())
        {
            if (string.Equals(top.Key, SettingsCatalog.SchemaKey, StringComparison.Ordinal) || SettingsCatalog.Find(top.Key) is not null)
            {
                continue;
            }

            SettingsSection? section = SettingsCatalog.FindSection(top.Key);
            if (section is null)
            {
                problems.Add(top.Path, "not a kaze setting" + SuggestTop(top.Key));
                continue;
            }

            CheckSection(top, section.Name, problems);
        }
    }

    /// <summary>The keys of a section (or of a group inside one, such as "discovery:etcd") must be its settings or its groups.</summary>
    private static void CheckSection(IConfigurationSection node, string path, SettingProblems problems)
    {
        List<string> names = SettingsIn(path);
        if (!string.IsNullOrEmpty(node.Value))
        {
            problems.Add(node.Path, $"must be an object of settings ({string.Join(", ", names)}), not '{node.Value}'");
        }

        foreach (IConfigurationSection child in node.GetChildren())
        {
            string childPath = path + ":" + child.Key;
            if (SettingsCatalog.Find(childPath) is not null)
            {
                continue;
            }

            if (names.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                // A group of settings, e.g. "etcd" in "discovery".
                CheckSection(child, childPath, problems);
                continue;
            }

            problems.Add(child.Path, $"not a setting of \"{path}\"{DidYouMean.Suggest(child.Key, names)}; its settings are {string.Join(", ", names)}");
        }
    }

    /// <summary>" (did you mean …?)" for an unknown first key: a first key, or a setting whose last part it is ("idleTimeout" → "corral:idleTimeout").</summary>
    private static string SuggestTop(string key)
    {
        var firstKeys = new List<string> { SettingsCatalog.SchemaKey };
        foreach (Setting setting in SettingsCatalog.All)
        {
            int colon = setting.Path.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                firstKeys.Add(setting.Path);
            }
            else if (string.Equals(setting.Path[(colon + 1)..], key, StringComparison.OrdinalIgnoreCase))
            {
                return $" (did you mean \"{setting.Path}\"?)";
            }
        }

        foreach (SettingsSection section in SettingsCatalog.Sections)
        {
            firstKeys.Add(section.Name);
        }

        return DidYouMean.Suggest(key, firstKeys);
    }

    /// <summary>The next part of each setting's path under <paramref name="section"/> ("discovery" → "etcd", "advertise"), each once.</summary>
    private static List<string> SettingsIn(string section)
    {
        var names = new List<string>();
        string prefix = section + ":";
        foreach (Setting setting in SettingsCatalog.All)
        {
            if (setting.Path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                string rest = setting.Path[prefix.Length..];
                int colon = rest.IndexOf(':', StringComparison.Ordinal);
                string name = colon < 0 ? rest : rest[..colon];
                if (!names.Contains(name, StringComparer.Ordinal))
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }
}
