namespace Kaze.Plugin;

/// <summary>A plugin's configuration is invalid; the message lists every problem with its key.</summary>
public sealed class PluginConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PluginConfigurationException(string plugin, IReadOnlyList<string> problems)
        : base($"plugin '{plugin}': " + string.Join("; ", problems))
    {
        Plugin = plugin;
        Problems = problems;
    }

    /// <summary>The plugin's name.</summary>
    public string Plugin { get; }

    /// <summary>Each problem, naming its configuration key, the value and what is allowed.</summary>
    public IReadOnlyList<string> Problems { get; }
}
