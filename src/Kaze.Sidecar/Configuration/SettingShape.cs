using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Configuration;

/// <summary>Parses one value of a setting: true and the value, or false and why not (naming the value and what is allowed).</summary>
internal delegate bool ValueParser<T>(string text, out T value, out string error);

/// <summary>
/// What a setting's value looks like: a single value, an object of entries (a map), or an object
/// with named fields (a record). Each shape reads a configuration node (checking that it is a value
/// where a value belongs and an object where an object belongs, and that an object has no key it
/// does not know), and describes itself as JSON schema.
/// </summary>
internal abstract class SettingShape
{
    /// <summary>True for maps and records: the node's children are the value.</summary>
    public abstract bool IsObject { get; }

    /// <summary>What the shape takes, in words, for messages.</summary>
    public abstract string Expected { get; }

    /// <summary>
    /// Reads <paramref name="node"/> (whose path is <paramref name="key"/>). Null when absent
    /// and <paramref name="optional"/>; problems go to <paramref name="problems"/>, and the value is
    /// then meaningless.
    /// </summary>
    public abstract object? Read(IConfigurationSection node, string key, SettingProblems problems, bool optional);

    /// <summary>The JSON schema of the value.</summary>
    public abstract JsonObject Schema();

    /// <summary>A node that holds a value of its own (a string where an object belongs).</summary>
    protected static bool HasValue(IConfigurationSection node) => !string.IsNullOrEmpty(node.Value);

    /// <summary>A node with children (an object or a list where a value belongs).</summary>
    protected static bool HasChildren(IConfigurationSection node)
    {
        foreach (IConfigurationSection _ in node.GetChildren())
        {
            return true;
        }

        return false;
    }
}

/// <summary>A single value: a string in kaze.json (numbers and booleans are read as their text), an environment variable or a flag.</summary>
internal sealed class ValueShape<T>(string expected, ValueParser<T> parse, Func<JsonObject> schema) : SettingShape
{
    public override bool IsObject => false;

    public override string Expected => expected;

    /// <summary>Parses one value (e.g. a map's key) as this shape does.</summary>
    public bool TryParse(string text, out T value, out string error) => parse(text, out value, out error);

    public override object? Read(IConfigurationSection node, string key, SettingProblems problems, bool optional)
    {
        if (HasChildren(node))
        {
            problems.Add(key, $"must be a single value ({expected}), not an object or a list");
            return null;
        }

        string? text = node.Value;
        if (string.IsNullOrEmpty(text) && optional)
        {
            return null;
        }

        if (!parse(text ?? "", out T value, out string error))
        {
            problems.Add(key, error);
            return null;
        }

        return value;
    }

    public override JsonObject Schema() => schema();
}

/// <summary>An object of entries: any key its key parser accepts, each with a value of one shape.</summary>
/// <typeparam name="TKey">The type of a key once parsed.</typeparam>
/// <typeparam name="TValue">The type of a value once read.</typeparam>
internal sealed class MapShape<TKey, TValue>(string expected, ValueParser<TKey> parseKey, JsonObject keySchema, SettingShape value) : SettingShape
{
    public override bool IsObject => true;

    public override string Expected => expected;

    public override object? Read(IConfigurationSection node, string key, SettingProblems problems, bool optional)
    {
        var entries = new List<KeyValuePair<TKey, TValue>>();
        if (HasValue(node))
        {
            problems.Add(key, $"must be an object ({expected}), not '{node.Value}'");
            return entries;
        }

        foreach (IConfigurationSection entry in node.GetChildren())
        {
            string entryKey = key + ":" + entry.Key;
            int before = problems.Count;
            bool keyOk = parseKey(entry.Key, out TKey parsedKey, out string keyError);
            if (!keyOk)
            {
                problems.Add(entryKey, keyError);
            }

            object? read = value.Read(entry, entryKey, problems, optional: false);
            if (keyOk && problems.Count == before)
            {
                entries.Add(new(parsedKey, (TValue)read!));
            }
        }

        return entries;
    }

    public override JsonObject Schema() => new()
    {
        ["type"] = "object",
        ["propertyNames"] = keySchema.DeepClone(),
        ["additionalProperties"] = value.Schema(),
    };
}

/// <summary>One field of a <see cref="RecordShape{T}"/>.</summary>
/// <param name="Name">The key, e.g. "permitsPerSecond".</param>
/// <param name="Shape">What it takes.</param>
/// <param name="Required">Whether the record must have it.</param>
/// <param name="Description">What it does, for the schema.</param>
internal sealed record RecordField(string Name, SettingShape Shape, bool Required, string Description);

/// <summary>The fields a record was read with: each present field's value, by name (any case).</summary>
internal sealed class RecordValues
{
    private readonly Dictionary<string, object?> _values = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The record's own path, e.g. "rateLimits:total".</summary>
    public required string Key { get; init; }

    /// <summary>The record's keys that are not fields (an open record: e.g. a plugin's own settings).</summary>
    public List<string> OtherKeys { get; } = [];

    public void Set(string name, object? value) => _values[name] = value;

    public bool Has(string name) => _values.ContainsKey(name);

    public T? Get<T>(string name) => _values.TryGetValue(name, out object? value) && value is T typed ? typed : default;
}

/// <summary>An object with named fields, built into one value once its fields are read.</summary>
/// <typeparam name="T">The record's type once built.</typeparam>
/// <param name="expected">The shape in words, with an example.</param>
/// <param name="fields">The fields it knows.</param>
/// <param name="open">True if other keys are allowed (they are someone else's: a plugin's settings).</param>
/// <param name="build">Builds the value from the fields that read well, adding a problem for each rule between fields that is broken; its value is kept only when the record has no problem.</param>
internal sealed class RecordShape<T>(string expected, IReadOnlyList<RecordField> fields, bool open, Func<RecordValues, SettingProblems, T?> build) : SettingShape
{
    public override bool IsObject => true;

    public override string Expected => expected;

    public IReadOnlyList<RecordField> Fields => fields;

    public override object? Read(IConfigurationSection node, string key, SettingProblems problems, bool optional)
    {
        if (HasValue(node))
        {
            problems.Add(key, $"must be an object ({expected}), not '{node.Value}'");
            return null;
        }

        if (!node.Exists())
        {
            if (optional)
            {
                return null;
            }

            problems.Add(key, $"is empty; expected {expected}");
            return null;
        }

        int before = problems.Count;
        var values = new RecordValues { Key = key };
        var names = new List<string>(fields.Count);
        foreach (RecordField field in fields)
        {
            names.Add(field.Name);
        }

        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection child in node.GetChildren())
        {
            RecordField? field = Find(child.Key);
            if (field is null)
            {
                if (open)
                {
                    values.OtherKeys.Add(child.Key);
                }
                else
                {
                    problems.Add(key + ":" + child.Key, $"unknown setting{DidYouMean.Suggest(child.Key, names)}; {expected} has {string.Join(", ", names)}");
                }

                continue;
            }

            present.Add(field.Name);
            object? value = field.Shape.Read(child, key + ":" + child.Key, problems, optional: true);
            if (value is not null)
            {
                values.Set(field.Name, value);
            }
        }

        foreach (RecordField field in fields)
        {
            if (field.Required && !present.Contains(field.Name))
            {
                problems.Add(key + ":" + field.Name, $"missing; {field.Description}");
            }
        }

        // Built even when a field was bad, so the rules between fields are reported at the same time.
        T? built = build(values, problems);
        return problems.Count == before ? built : null;
    }

    public override JsonObject Schema()
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (RecordField field in fields)
        {
            JsonObject schema = field.Shape.Schema();
            schema["description"] = field.Description;
            properties[field.Name] = schema;
            if (field.Required)
            {
                required.Add((JsonNode)field.Name); // not Add<T>: that one needs reflection (trimming, Native AOT)
            }
        }

        var result = new JsonObject { ["type"] = "object", ["properties"] = properties };
        if (required.Count > 0)
        {
            result["required"] = required;
        }

        if (!open)
        {
            result["additionalProperties"] = false;
        }

        return result;
    }

    private RecordField? Find(string name)
    {
        foreach (RecordField field in fields)
        {
            if (string.Equals(field.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return field;
            }
        }

        return null;
    }
}

/// <summary>
/// A list of values of one shape: a JSON array in kaze.json, or one value with the items separated by
/// commas (an environment variable, a flag). A value given on a later layer (a flag, a variable)
/// replaces a list of the file rather than merging with it item by item.
/// </summary>
/// <typeparam name="T">The type of an item once parsed.</typeparam>
internal sealed class ListShape<T>(string expected, ValueShape<T> item, int maxItems) : SettingShape
{
    public override bool IsObject => false;

    public override string Expected => expected;

    public override object? Read(IConfigurationSection node, string key, SettingProblems problems, bool optional)
    {
        var items = new List<T>();
        var texts = new List<(string Key, string Text)>();
        if (HasValue(node))
        {
            foreach (string part in node.Value!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                texts.Add((key, part));
            }
        }
        else
        {
            foreach (IConfigurationSection child in node.GetChildren())
            {
                if (HasChildren(child))
                {
                    problems.Add(key + ":" + child.Key, $"must be a single value ({item.Expected}), not an object or a list");
                    continue;
                }

                texts.Add((key + ":" + child.Key, child.Value ?? ""));
            }
        }

        if (texts.Count > maxItems)
        {
            problems.Add(key, $"has {texts.Count} items; at most {maxItems}");
            return items;
        }

        foreach ((string itemKey, string text) in texts)
        {
            if (item.TryParse(text, out T value, out string error))
            {
                items.Add(value);
            }
            else
            {
                problems.Add(itemKey, error);
            }
        }

        return items;
    }

    public override JsonObject Schema() => new()
    {
        ["anyOf"] = new JsonArray(
            new JsonObject { ["type"] = "array", ["items"] = item.Schema(), ["maxItems"] = maxItems },
            new JsonObject { ["type"] = "string", ["description"] = "items separated by commas" }),
    };
}
