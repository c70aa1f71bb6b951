using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Configuration;

/// <summary>
/// One setting of kaze, declared once in <see cref="SettingsCatalog"/>: its path in the
/// configuration (kaze.json keys joined by ':'), its default, what it does, and its shape (what
/// values it takes and how they are checked). Binding, the environment layer, <c>kaze config
/// dump</c>, <c>kaze config check</c>, validation at start and <c>kaze config schema</c> all read
/// it from here.
/// </summary>
public abstract class Setting
{
    private protected Setting(string path, string? defaultText, string description)
    {
        Path = path;
        Default = defaultText;
        Description = description;
    }

    /// <summary>The path in the configuration, e.g. "corral:idleTimeout".</summary>
    public string Path { get; }

    /// <summary>The default as kaze.json would write it, or null when the setting has none (unset).</summary>
    public string? Default { get; }

    /// <summary>What the setting does, for <c>--help</c>, <c>config dump</c> and the schema.</summary>
    public string Description { get; }

    /// <summary>The environment variable that sets it: KAZE_ then the path with ':' as "__", upper case.</summary>
    public string EnvironmentVariable => SettingsCatalog.EnvironmentVariableOf(Path);

    /// <summary>What the setting takes, in words ("a duration, e.g. 5s").</summary>
    public string Expected => ShapeOf.Expected;

    /// <summary>True when the setting is an object (its entries are keys below its path), false for a single value.</summary>
    public bool IsObject => ShapeOf.IsObject;

    internal abstract SettingShape ShapeOf { get; }

    /// <summary>
    /// Reads this setting from <paramref name="configuration"/> (the whole configuration), listing its
    /// problems. A configuration without the key at all (one built without the defaults layer) gets the default.
    /// </summary>
    internal object? ReadBoxed(IConfiguration configuration, SettingProblems problems)
    {
        IConfigurationSection node = configuration.GetSection(Path);
        if (Default is not null && !node.Exists())
        {
            node = new ConfigurationBuilder().AddInMemoryCollection([new KeyValuePair<string, string?>(Path, Default)]).Build().GetSection(Path);
        }

        return ShapeOf.Read(node, Path, problems, optional: Default is null);
    }

    /// <summary>The JSON schema of the setting's value.</summary>
    internal JsonObject Schema()
    {
        JsonObject schema = ShapeOf.Schema();
        schema["description"] = Description;
        if (Default is not null)
        {
            schema["default"] = Default;
        }

        return schema;
    }

    /// <inheritdoc/>
    public override string ToString() => Path;
}

/// <summary>A setting whose value is a <typeparamref name="T"/> (null for an optional setting that is not set).</summary>
/// <typeparam name="T">The value's type once read and checked.</typeparam>
public sealed class Setting<T> : Setting
{
    private readonly SettingShape _shape;

    internal Setting(string path, string? defaultText, string description, SettingShape shape)
        : base(path, defaultText, description)
    {
        _shape = shape;
    }

    internal override SettingShape ShapeOf => _shape;

    /// <summary>
    /// Reads and checks this setting alone from <paramref name="configuration"/> (the whole
    /// configuration, defaults included). Problems are added to <paramref name="problems"/>, each
    /// "path: what is wrong"; the value is meaningful only when none was added.
    /// </summary>
    public T Read(IConfiguration configuration, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var found = new SettingProblems();
        object? value = ReadBoxed(configuration, found);
        problems.AddRange(found.Select(p => p.ToString()));
        return value is T typed ? typed : default!;
    }
}

/// <summary>One problem with a setting: the key (a configuration path) and what is wrong with its value.</summary>
/// <param name="Key">The configuration path of the value, e.g. "corral:idleTimeout" or "nodes:0.0.0.2".</param>
/// <param name="Message">What is wrong, naming the value and what is allowed.</param>
public sealed record SettingProblem(string Key, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Key}: {Message}";
}

/// <summary>The problems found while reading settings.</summary>
internal sealed class SettingProblems : List<SettingProblem>
{
    public void Add(string key, string message) => Add(new SettingProblem(key, message));
}
