using Kaze.Protocol;
using Microsoft.Extensions.Configuration;

namespace Kaze.Plugin;

/// <summary>What a plugin is told about the sidecar it runs in.</summary>
public sealed class PluginContext
{
    /// <summary>Creates a context.</summary>
    public PluginContext(string name, IConfiguration section, IConfiguration root, Ident ident)
    {
        Name = name;
        Configuration = section;
        RootConfiguration = root;
        Ident = ident;
    }

    /// <summary>The plugin's name.</summary>
    public string Name { get; }

    /// <summary>The plugin's own configuration section ("plugins:&lt;name&gt;" for third-party plugins, its area's section for built-ins).</summary>
    public IConfiguration Configuration { get; }

    /// <summary>The whole effective configuration (read-only by convention).</summary>
    public IConfiguration RootConfiguration { get; }

    /// <summary>This sidecar's ident.</summary>
    public Ident Ident { get; }
}
