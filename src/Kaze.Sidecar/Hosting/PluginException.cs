namespace Kaze.Sidecar.Hosting;

/// <summary>A plugin failed while the sidecar was being composed; the start stops with this message.</summary>
public sealed class PluginException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PluginException(string plugin, string stage, Exception inner)
        : base($"plugin '{plugin}' failed while {stage}: {inner.Message}", inner)
    {
        Plugin = plugin;
    }

    /// <summary>The plugin's name.</summary>
    public string Plugin { get; }
}
