using Kaze.Sidecar.Configuration;

namespace Kaze.Sidecar.Plugins;

/// <summary>One entry of "plugins": where the plugin's assembly is, which class, and its place in the pipeline.</summary>
/// <param name="Assembly">The plugin's .dll (a relative path is from the working directory).</param>
/// <param name="Type">The plugin class's full name, or null when the assembly has only one.</param>
/// <param name="Order">Its position among plugins (then by name).</param>
public sealed record PluginEntry(string Assembly, string? Type, int Order)
{
    /// <summary>The shape of an entry; keys other than these three are the plugin's own settings.</summary>
    internal static readonly RecordShape<PluginEntry> Shape = new(
        "an object { \"assembly\": PATH, \"type\": CLASS, \"order\": N, …the plugin's own settings }",
        [
            new("assembly", SettingKinds.ExistingFile(), Required: true, "The plugin's .dll, best an absolute path (a relative one is taken from kaze's working directory)."),
            new("type", SettingKinds.Text("a class's full name"), Required: false, "The plugin class's full name, needed only when the assembly has more than one."),
            new("order", SettingKinds.Int(int.MinValue, int.MaxValue), Required: false, "Where the plugin sits among plugins, default 0; then by name."),
        ],
        open: true,
        (values, _) => new PluginEntry(values.Get<string>("assembly")!, values.Get<string>("type"), values.Get<int>("order")));
}
