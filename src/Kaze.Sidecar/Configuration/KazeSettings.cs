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
    public IReadOnlyList<KeyValuePair<Ident, NodeAddress>> Nodes => Get(SettingsCatalog.Nodes) ?? [];

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
    }

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

            List<string> names = SettingsIn(section.Name);
            if (!string.IsNullOrEmpty(top.Value))
            {
                problems.Add(top.Path, $"must be an object of settings ({string.Join(", ", names)}), not '{top.Value}'");
            }

            foreach (IConfigurationSection child in top.GetChildren())
            {
                if (SettingsCatalog.Find(section.Name + ":" + child.Key) is null)
                {
                    problems.Add(child.Path, $"not a setting of \"{section.Name}\"{DidYouMean.Suggest(child.Key, names)}; its settings are {string.Join(", ", names)}");
                }
            }
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

    private static List<string> SettingsIn(string section)
    {
        var names = new List<string>();
        string prefix = section + ":";
        foreach (Setting setting in SettingsCatalog.All)
        {
            if (setting.Path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                names.Add(setting.Path[prefix.Length..]);
            }
        }

        return names;
    }
}
