using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Kaze.Plugin;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Plugins;

/// <summary>
/// Loads the third-party plugins the configuration lists under "plugins", each into its own
/// <see cref="System.Runtime.Loader.AssemblyLoadContext"/>. See docs/plugins.md.
/// </summary>
/// <remarks>
/// <code>
/// "plugins": {
///   "hello": {
///     "assembly": "/opt/kaze/plugins/hello/Kaze.Plugin.Hello.dll",  // required; relative: from the working directory
///     "type": "Kaze.Plugin.Hello.HelloPlugin",                       // optional: when the assembly has several plugin types
///     "order": 0,                                                    // optional: pipeline position among plugins (then by name)
///     "greeting": "hi"                                               // anything else is the plugin's own ("plugins:hello")
///   }
/// }
/// </code>
/// The plugin's name is its key ("hello"): it is the name in logs and errors, the name of its
/// pipeline step, and its configuration section is "plugins:&lt;name&gt;", whatever the plugin's
/// own <see cref="IKazePlugin.Name"/> says. Everything the plugin adds to the pipeline becomes
/// one step under that name.
/// Loading assemblies at run time needs the JIT: a Native AOT build of kaze leaves this out (its
/// callers are guarded by <see cref="JitOnlyFeatures.IsSupported"/>) and hands such a
/// configuration to the JIT build (docs/cli.md, "Native AOT").
/// </remarks>
[RequiresUnreferencedCode("Loads plugin assemblies at run time.")]
[RequiresDynamicCode("Loads plugin assemblies at run time.")]
public static class PluginLoader
{
    /// <summary>The configuration section listing the plugins.</summary>
    public const string SectionName = "plugins";

    /// <summary>
    /// Loads and creates every plugin listed in <paramref name="configuration"/>'s "plugins"
    /// section, ordered by "order" then name.
    /// </summary>
    /// <param name="configuration">The effective configuration.</param>
    /// <returns>The plugins, ready for <see cref="SidecarApp"/>.Build; empty when none is listed.</returns>
    /// <exception cref="PluginException">
    /// A plugin cannot be loaded: its entry has no assembly, the file is missing or not a .NET
    /// assembly, it holds no plugin type (or several and none is named), or the plugin's
    /// constructor threw. The message names the plugin and says what went wrong.
    /// </exception>
    public static IReadOnlyList<IKazePlugin> Load(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        IConfigurationSection plugins = configuration.GetSection(SectionName);
        if (!string.IsNullOrEmpty(plugins.Value))
        {
            throw new PluginException(SectionName, "reading the configuration", new InvalidDataException(
                $"\"{SectionName}\" must be an object of plugin name → {{ \"assembly\": PATH, … }}, not '{plugins.Value}'"));
        }

        var sections = new List<IConfigurationSection>(plugins.GetChildren());
        if (sections.Count == 0)
        {
            // The usual case, and every `kaze run` pays for it: no list of tuples to sort.
            return [];
        }

        var entries = new List<(int Order, string Name, IConfigurationSection Section)>(sections.Count);
        foreach (IConfigurationSection section in sections)
        {
            RefuseReservedName(section);
            entries.Add((ReadOrder(section), section.Key, section));
        }

        entries.Sort((a, b) => a.Order != b.Order ? a.Order.CompareTo(b.Order) : string.CompareOrdinal(a.Name, b.Name));
        var loaded = new List<IKazePlugin>(entries.Count);
        foreach ((_, string name, IConfigurationSection section) in entries)
        {
            loaded.Add(LoadOne(name, section));
        }

        return loaded;
    }

    /// <summary>
    /// A plugin reads the top-level section named like it if there is one (that is how the
    /// built-ins get "metrics" and "rateLimits"), so a plugin named like one of kaze's own
    /// sections ("nodes", "log", "plugins"…) would take kaze's settings for its own: refused.
    /// </summary>
    private static void RefuseReservedName(IConfigurationSection section)
    {
        string name = section.Key;
        if (SettingsCatalog.FindSection(name) is not null || SettingsCatalog.Find(name) is not null)
        {
            throw new PluginException(name, "reading the configuration", new InvalidDataException(
                $"'{name}' is the name of one of kaze's own settings sections; give the plugin another name under \"{SectionName}\""));
        }
    }

    private static int ReadOrder(IConfigurationSection section)
    {
        string? text = section["order"];
        if (text is null)
        {
            return 0;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int order))
        {
            throw new PluginException(section.Key, "reading the configuration", new InvalidDataException(
                $"{section.Path}:order: '{text}' is not a whole number"));
        }

        return order;
    }

    private static LoadedPlugin LoadOne(string name, IConfigurationSection section)
    {
        string? configured = section["assembly"];
        if (string.IsNullOrWhiteSpace(configured))
        {
            throw Failed(name, "loading its assembly", new InvalidDataException(
                $"{section.Path}:assembly is missing: give the path of the plugin's .dll"));
        }

        string path = Path.GetFullPath(configured);
        if (!File.Exists(path))
        {
            throw Failed(name, "loading its assembly", new FileNotFoundException(
                $"'{path}' does not exist ({section.Path}:assembly)", path));
        }

        Assembly assembly;
        try
        {
            var context = new PluginLoadContext(name, path);
            assembly = context.LoadFromAssemblyPath(path);
        }
        catch (BadImageFormatException e)
        {
            throw Failed(name, "loading its assembly", new BadImageFormatException($"'{path}' is not a .NET assembly", e));
        }
        catch (Exception e) when (e is FileLoadException or IOException or InvalidOperationException)
        {
            throw Failed(name, "loading its assembly", e);
        }

        Type type = FindPluginType(name, assembly, path, section);
        ConstructorInfo? constructor = type.GetConstructor(Type.EmptyTypes);
        if (constructor is null)
        {
            throw Failed(name, "creating " + type.FullName, new MissingMethodException(
                $"{type.FullName} has no public constructor without parameters"));
        }

        IKazePlugin instance;
        try
        {
            instance = (IKazePlugin)constructor.Invoke(null);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw Failed(name, "creating " + type.FullName, e.InnerException);
        }

        return new LoadedPlugin(name, instance, path);
    }

    private static Type FindPluginType(string name, Assembly assembly, string path, IConfigurationSection section)
    {
        Type[] exported;
        try
        {
            exported = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            // Usually a dependency that is neither next to the plugin nor shipped by the sidecar.
            throw Failed(name, "reading its types", e);
        }

        string? typeName = section["type"];
        if (!string.IsNullOrWhiteSpace(typeName))
        {
            Type? named = assembly.GetType(typeName, throwOnError: false, ignoreCase: false);
            if (named is null || !named.IsPublic)
            {
                throw Failed(name, "finding its plugin type", new TypeLoadException(
                    $"'{path}' has no public type '{typeName}' ({section.Path}:type)"));
            }

            if (!IsPluginType(named))
            {
                throw Failed(name, "finding its plugin type", new TypeLoadException(
                    $"{typeName} is not a non-abstract class implementing {typeof(IKazePlugin).FullName}{ContractHint(named)}"));
            }

            return named;
        }

        var candidates = new List<Type>();
        foreach (Type type in exported)
        {
            if (IsPluginType(type))
            {
                candidates.Add(type);
            }
        }

        if (candidates.Count == 1)
        {
            return candidates[0];
        }

        if (candidates.Count > 1)
        {
            throw Failed(name, "finding its plugin type", new AmbiguousMatchException(
                $"'{path}' has several plugin types ({string.Join(", ", candidates.Select(t => t.FullName))}); name one in {section.Path}:type"));
        }

        string hint = "";
        foreach (Type type in exported)
        {
            hint = ContractHint(type);
            if (hint.Length > 0)
            {
                break;
            }
        }

        throw Failed(name, "finding its plugin type", new TypeLoadException(
            $"'{path}' has no public non-abstract class implementing {typeof(IKazePlugin).FullName}{hint}"));
    }

    private static bool IsPluginType(Type type) =>
        type.IsClass && !type.IsAbstract && !type.ContainsGenericParameters && typeof(IKazePlugin).IsAssignableFrom(type);

    /// <summary>A type that implements an IKazePlugin that is not the sidecar's: the contract was not shared.</summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "Plugins load only in the JIT build of kaze, which is never a single file.")]
    private static string ContractHint(Type type)
    {
        foreach (Type implemented in type.GetInterfaces())
        {
            if (implemented.FullName == typeof(IKazePlugin).FullName && implemented != typeof(IKazePlugin))
            {
                return $" ({type.FullName} implements another copy of it, from '{implemented.Assembly.Location}': reference Kaze.Plugin with <Private>false</Private> and ExcludeAssets=runtime)";
            }
        }

        return "";
    }

    private static PluginException Failed(string name, string stage, Exception inner) => new(name, stage, inner);
}
