using System.Collections;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Configuration;

/// <summary>
/// Builds the configuration in layers, later wins: defaults &lt; kaze.json &lt; KAZE_* environment &lt;
/// flags actually given on the command line (a flag's default never overrides the file).
/// </summary>
public static class SettingsLoader
{
    /// <summary>The file name looked for in the working directory, then in ~/.config/kaze/.</summary>
    public const string FileName = "kaze.json";

    // Set by `kaze run` for the host program: the host's contract, not configuration of kaze.
    private static readonly HashSet<string> HostContractVariables = ["KAZE_CHANNEL", "KAZE_SIDECAR_PID"];

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

    /// <summary>Builds the layered configuration. Throws <see cref="InvalidDataException"/> for a file that cannot be read or parsed.</summary>
    public static IConfigurationRoot Build(string? file, IEnumerable<KeyValuePair<string, string?>> flags, IDictionary? environment = null)
    {
        var builder = new ConfigurationBuilder();
        builder.AddInMemoryCollection(SettingsCatalog.Defaults);
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new InvalidDataException($"{file}: configuration file not found");
            }

            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }

        builder.AddInMemoryCollection(FromEnvironment(environment ?? Environment.GetEnvironmentVariables()));
        builder.AddInMemoryCollection(flags);
        try
        {
            return builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"{file}: {e.Message}{(e.InnerException is null ? "" : " " + e.InnerException.Message)}", e);
        }
    }

    /// <summary>KAZE_LOG__LEVEL=debug → "log:level" = "debug"; KAZE_NODES__0.0.0.2=… → "nodes:0.0.0.2".</summary>
    public static IEnumerable<KeyValuePair<string, string?>> FromEnvironment(IDictionary environment)
    {
        var byPath = SettingsCatalog.All.ToDictionary(s => s.EnvironmentVariable, s => s.Path, StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            string name = (string)entry.Key;
            if (!name.StartsWith("KAZE_", StringComparison.Ordinal) || HostContractVariables.Contains(name))
            {
                continue;
            }

            string path = byPath.TryGetValue(name, out string? known)
                ? known
                : name["KAZE_".Length..].Replace("__", ":", StringComparison.Ordinal).ToLowerInvariant();
            yield return new KeyValuePair<string, string?>(path, (string?)entry.Value);
        }
    }
}
