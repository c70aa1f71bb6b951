using System.Collections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Kaze.Sidecar.Configuration;

/// <summary>The layer a value of the configuration comes from.</summary>
public enum SettingLayer
{
    /// <summary>The catalog's default.</summary>
    Default = 0,

    /// <summary>The configuration file.</summary>
    File,

    /// <summary>A KAZE_* environment variable.</summary>
    Environment,

    /// <summary>An option given on the command line.</summary>
    CommandLine,
}

/// <summary>Where a value comes from: its layer and, for the file and the environment, the file's path or the variable's name.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Name">The file's path, the environment variable, or null.</param>
public readonly record struct SettingOrigin(SettingLayer Layer, string? Name)
{
    /// <summary>How a message names it: the file's path, "KAZE_X (environment)", "command line", or null for a default.</summary>
    public string? Label => Layer switch
    {
        SettingLayer.File => Name,
        SettingLayer.Environment => $"{Name} (environment)",
        SettingLayer.CommandLine => "command line",
        _ => null,
    };
}

/// <summary>
/// Builds the configuration in layers, later wins: defaults &lt; kaze.json &lt; KAZE_* environment &lt;
/// flags actually given on the command line (a flag's default never overrides the file). Each layer
/// remembers what it holds, so a problem can name the file, the variable or the command line it came from.
/// </summary>
public static class SettingsLoader
{
    /// <summary>The file name looked for in the working directory, then in ~/.config/kaze/.</summary>
    public const string FileName = "kaze.json";

    /// <summary>The file to read: <paramref name="explicitPath"/>, else ./kaze.json, else ~/.config/kaze/kaze.json, else none.</summary>
    public static string? FindFile(string? explicitPath)
    {
        if (explicitPath is not null)
        {
            return explicitPath;
        }

        string local = Path.Combine(Environment.CurrentDirectory, FileName);
        if (File.Exists(local))
        {
            return local;
        }

        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string user = Path.Combine(home, ".config", "kaze", FileName);
        return File.Exists(user) ? user : null;
    }

    /// <summary>
    /// Builds the layered configuration. Throws <see cref="InvalidDataException"/> for a file that
    /// cannot be read or parsed (the message names the file and, from the JSON reader, where).
    /// </summary>
    /// <param name="file">The configuration file, or null for none.</param>
    /// <param name="flags">The options given on the command line, as setting paths and values.</param>
    /// <param name="environment">The environment; null for this process's.</param>
    public static IConfigurationRoot Build(string? file, IEnumerable<KeyValuePair<string, string?>> flags, IDictionary? environment = null)
    {
        var builder = new ConfigurationBuilder();
        builder.Add(new LayerSource(SettingLayer.Default, SettingsCatalog.Defaults, null));
        if (file is not null)
        {
            if (Directory.Exists(file))
            {
                throw new InvalidDataException($"{file}: is a directory, not a configuration file");
            }

            if (!File.Exists(file))
            {
                throw new InvalidDataException($"{file}: configuration file not found");
            }

            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }

        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        builder.Add(new LayerSource(SettingLayer.Environment, FromEnvironment(environment ?? Environment.GetEnvironmentVariables(), names), names));
        builder.Add(new LayerSource(SettingLayer.CommandLine, flags, null));
        try
        {
            return builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"{file}: {e.Message}{(e.InnerException is null ? "" : " " + e.InnerException.Message)}", e);
        }
    }

    /// <summary>
    /// KAZE_LOG__LEVEL=debug → "log:level" = "debug"; KAZE_NODES__0.0.0.2=… → "nodes:0.0.0.2". A
    /// KAZE_* variable is a setting when its first part (up to "__") names one of kaze's first keys
    /// ("ident", "corral"…) or nearly does (a typo, which reading the settings then reports with
    /// what it most likely meant); other KAZE_* variables belong to other programs (a host library's
    /// own, passed down through <c>kaze run</c>) and are left alone, as are
    /// <see cref="SettingsCatalog.NotSettingVariables"/>.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IDictionary environment) => FromEnvironment(environment, null);

    /// <summary>
    /// Where the value of <paramref name="key"/> in <paramref name="configuration"/> comes from: the
    /// last layer that holds it (or a key below it); for a key no layer holds (a missing field), the
    /// layer of the object it is missing from.
    /// </summary>
    public static SettingOrigin OriginOf(IConfigurationRoot configuration, string key)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(key);
        SettingOrigin? origin = OriginOfExactly(configuration, key);
        for (int colon = key.LastIndexOf(':'); origin is null && colon > 0; colon = key.LastIndexOf(':', colon - 1))
        {
            origin = OriginOfExactly(configuration, key[..colon]);
        }

        return origin ?? new SettingOrigin(SettingLayer.Default, null);
    }

    // Null when no layer holds the key or a key below it.
    private static SettingOrigin? OriginOfExactly(IConfigurationRoot configuration, string key)
    {
        IConfigurationProvider[] providers = [.. configuration.Providers];
        for (int i = providers.Length - 1; i >= 0; i--)
        {
            IConfigurationProvider provider = providers[i];
            if (!provider.TryGet(key, out _) && !provider.GetChildKeys([], key).Any())
            {
                continue;
            }

            return provider switch
            {
                JsonConfigurationProvider json => new SettingOrigin(SettingLayer.File, json.Source.Path),
                LayerProvider layer => new SettingOrigin(layer.Layer, layer.NameOf(key)),
                _ => new SettingOrigin(SettingLayer.Default, null),
            };
        }

        return null;
    }

    /// <summary>
    /// A problem as kaze prints it: "ORIGIN: key: message", where ORIGIN is the file (as given in
    /// <paramref name="file"/>), "KAZE_X (environment)" or "command line"; no origin for a rule between settings that are all defaults.
    /// </summary>
    public static string Describe(IConfigurationRoot configuration, string? file, SettingProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        SettingOrigin origin = OriginOf(configuration, problem.Key);
        string? label = origin.Layer == SettingLayer.File && file is not null ? file : origin.Label;
        return label is null ? problem.ToString() : $"{label}: {problem}";
    }

    private static List<KeyValuePair<string, string?>> FromEnvironment(IDictionary environment, Dictionary<string, string>? names)
    {
        var byVariable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (Setting setting in SettingsCatalog.All)
        {
            byVariable[setting.EnvironmentVariable] = setting.Path;
        }

        var result = new List<KeyValuePair<string, string?>>();
        foreach (DictionaryEntry entry in environment)
        {
            string name = (string)entry.Key;
            if (!name.StartsWith("KAZE_", StringComparison.Ordinal) || SettingsCatalog.NotSettingVariables.Contains(name))
            {
                continue;
            }

            string path;
            if (byVariable.TryGetValue(name, out string? known))
            {
                path = known;
            }
            else if (IsKazeFirstKey(name["KAZE_".Length..].Split("__")[0]))
            {
                path = name["KAZE_".Length..].Replace("__", ":", StringComparison.Ordinal).ToLowerInvariant();
            }
            else
            {
                continue;
            }

            names?.TryAdd(path, name);
            result.Add(new KeyValuePair<string, string?>(path, (string?)entry.Value));
        }

        return result;
    }

    /// <summary>True if <paramref name="first"/> is one of kaze's first keys, or within a typo of one.</summary>
    private static bool IsKazeFirstKey(string first)
    {
        var names = new List<string>();
        foreach (Setting setting in SettingsCatalog.All)
        {
            names.Add(setting.Path.Split(':')[0]);
        }

        foreach (SettingsSection section in SettingsCatalog.Sections)
        {
            names.Add(section.Name);
        }

        return DidYouMean.Closest(first, names) is not null;
    }

    /// <summary>One layer of key/value pairs (defaults, environment, flags), which knows what it is.</summary>
    private sealed class LayerSource(SettingLayer layer, IEnumerable<KeyValuePair<string, string?>> values, Dictionary<string, string>? names) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new LayerProvider(layer, values, names);
    }

    private sealed class LayerProvider : ConfigurationProvider
    {
        private readonly Dictionary<string, string>? _names;

        public LayerProvider(SettingLayer layer, IEnumerable<KeyValuePair<string, string?>> values, Dictionary<string, string>? names)
        {
            Layer = layer;
            _names = names;
            foreach (KeyValuePair<string, string?> pair in values)
            {
                Data[pair.Key] = pair.Value;
            }
        }

        public SettingLayer Layer { get; }

        /// <summary>The variable that set <paramref name="key"/> (or the first one below it), for the environment layer.</summary>
        public string? NameOf(string key)
        {
            if (_names is null)
            {
                return null;
            }

            if (_names.TryGetValue(key, out string? name))
            {
                return name;
            }

            foreach (KeyValuePair<string, string> pair in _names)
            {
                if (pair.Key.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase))
                {
                    return pair.Value;
                }
            }

            return SettingsCatalog.EnvironmentVariableOf(key);
        }
    }
}
