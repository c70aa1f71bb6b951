using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.Loader;

namespace Kaze.Sidecar.Plugins;

/// <summary>
/// The assembly load context of one third-party plugin: the plugin's own dependencies come from
/// its folder (its .deps.json, through <see cref="AssemblyDependencyResolver"/>), while the
/// assemblies its contract with the sidecar is made of come from the sidecar, so that
/// <c>IKazePlugin</c>, <c>PacketContext</c>, <c>IServiceCollection</c>, <c>ILogger</c>… are the
/// same types on both sides.
/// </summary>
/// <remarks>
/// Shared (taken from the default context, whatever version the plugin was built against):
/// <c>Kaze.*</c>, <c>Microsoft.Extensions.*</c>, <c>System.*</c>, <c>Google.Protobuf</c> (the
/// header's types) and the framework's facades. A shared name the sidecar does not ship (e.g. a
/// <c>Microsoft.Extensions.*</c> package only the plugin uses) is loaded from the plugin's folder.
/// Not collectible: a plugin lives as long as the process.
/// </remarks>
[RequiresUnreferencedCode("Loads plugin assemblies at run time.")]
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    public PluginLoadContext(string pluginName, string assemblyPath)
        : base("kaze-plugin:" + pluginName, isCollectible: false)
    {
        _resolver = new AssemblyDependencyResolver(assemblyPath);
    }

    /// <summary>Whether <paramref name="name"/> is one of the assemblies the plugin must share with the sidecar.</summary>
    public static bool IsShared(AssemblyName name)
    {
        string simple = name.Name ?? "";
        return simple.StartsWith("Kaze.", StringComparison.Ordinal)
            || simple.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
            || simple.StartsWith("System.", StringComparison.Ordinal)
            || simple is "System" or "mscorlib" or "netstandard" or "Google.Protobuf";
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName) && TryLoadShared(assemblyName, out Assembly? shared))
        {
            return shared;
        }

        string? path = _resolver.ResolveAssemblyToPath(assemblyName);
        // Null: not the plugin's own; the runtime falls back to the default context.
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private static bool TryLoadShared(AssemblyName name, out Assembly? assembly)
    {
        try
        {
            // By simple name: the sidecar's copy wins over the version the plugin asks for, so
            // the types unify (a plugin built against a newer contract fails on a missing member,
            // with a message, rather than on two IKazePlugin types that are not the same).
            assembly = Default.LoadFromAssemblyName(new AssemblyName(name.Name!));
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            assembly = null;
            return false;
        }
    }
}
