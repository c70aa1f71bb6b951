using System.Reflection;

namespace Kaze.Sidecar.Tests.Plugins;

/// <summary>Where the plugin assemblies the tests load are.</summary>
internal static class PluginPaths
{
    /// <summary>examples/Plugin's build output (built before the tests: see the project file).</summary>
    public static string Hello { get; } = typeof(PluginPaths).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "HelloPluginPath").Value!;

    /// <summary>This test assembly: it holds several test plugins (TestPlugins.cs), chosen by "type".</summary>
    public static string Tests { get; } = typeof(PluginPaths).Assembly.Location;

    /// <summary>An assembly with no plugin in it.</summary>
    public static string NoPlugin { get; } = typeof(Kaze.Core.ShmChannel).Assembly.Location;

    public static string TestType(string name) => "Kaze.Sidecar.Tests.Plugins.TestPlugins." + name;

    /// <summary>A kaze.json listing one plugin; <paramref name="extra"/> is more of its section, e.g. "\"x\": \"1\"".</summary>
    public static string Config(string name, string? assembly, string? type = null, string? extra = null)
    {
        var fields = new List<string>();
        if (assembly is not null)
        {
            fields.Add($"\"assembly\": {System.Text.Json.JsonSerializer.Serialize(assembly)}");
        }

        if (type is not null)
        {
            fields.Add($"\"type\": \"{type}\"");
        }

        if (extra is not null)
        {
            fields.Add(extra);
        }

        return $$"""{ "plugins": { "{{name}}": { {{string.Join(", ", fields)}} } } }""";
    }
}
