using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>
/// The text of <c>kaze config dump</c>: a configuration as kaze.json (JSON with // comments), in
/// the order of <see cref="SettingsCatalog"/>, each setting under a comment that says what it
/// does, its default, and what set it when that is not the default. Settings that are not set are
/// commented out, so the text reads back as the same configuration.
/// </summary>
/// <remarks>
/// Every value is written as a JSON string: the configuration holds strings only (kaze.json's
/// numbers and booleans become strings when read), so the round trip is exact. Keys kaze does not
/// know (plugin sections, typos) are written too, after kaze's own, with a comment saying so.
/// </remarks>
internal static class ConfigText
{
    private const string Indent = "  ";

    // The top-level sections that hold kaze's own settings ("channel", "corral"…), from the catalog.
    private static readonly HashSet<string> KazeSections = SettingsCatalog.Sections.Select(s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public static string Write(IConfigurationRoot configuration, string? file)
    {
        Node root = Tree(configuration);
        var text = new StringBuilder();
        text.Append("// kaze configuration: defaults < ")
            .Append(file is null ? "no configuration file" : "the file " + file)
            .Append(" < KAZE_* environment < command-line options.\n")
            .Append("// Written by `kaze config dump`; `kaze --config FILE` reads it back.\n");
        WriteObject(text, root, configuration, "", 0);
        return text.ToString();
    }

    /// <summary>
    /// Why a configuration file cannot be read: <see cref="SettingsLoader.Build"/>'s message, and the
    /// JSON reader's own (which says where: line and byte) when it is further down.
    /// </summary>
    public static string Unreadable(InvalidDataException e)
    {
        Exception innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return e.Message.Contains(innermost.Message, StringComparison.Ordinal) ? e.Message : e.Message + " " + innermost.Message;
    }

    private static void WriteObject(StringBuilder text, Node node, IConfigurationRoot configuration, string prefix, int depth)
    {
        var members = new List<(List<string> Comments, string? Member)>();
        foreach (Node child in node.Children)
        {
            string path = prefix + child.Name;
            Setting? setting = SettingsCatalog.Find(path);
            var comments = new List<string>();
            if (setting is not null && child.Children.Count == 0)
            {
                comments.Add(Describe(setting, Source(configuration, path)));
                members.Add((comments, child.Value is { Length: > 0 } value ? $"{Quote(child.Name)}: {Quote(value)}" : null));
                if (child.Value is not { Length: > 0 })
                {
                    comments.Add($"{Quote(child.Name)}: not set");
                }

                continue;
            }

            if (setting is not null)
            {
                // An object-valued setting ("nodes", "log:levels"): its entries may come from several layers.
                comments.Add(Describe(setting, null));
            }
            else if (depth == 0 && KazeSections.Contains(child.Name))
            {
                comments.Add(SettingsCatalog.FindSection(child.Name)!.Description);
            }
            else if (depth == 0 && child.Name == SettingsCatalog.SchemaKey)
            {
                comments.Add("The JSON schema of this file, for editors (`kaze config schema`); kaze ignores it.");
            }
            else if (depth == 0 || IsKazeSection(prefix))
            {
                comments.Add("Not a kaze setting (a typo?): `kaze run` refuses it; `kaze config check` says what it may have meant.");
            }

            var member = new StringBuilder();
            member.Append(Quote(child.Name)).Append(": ");
            WriteValue(member, child, configuration, path + ":", depth + 1);
            members.Add((comments, member.ToString()));
        }

        text.Append("{\n");
        string pad = string.Concat(Enumerable.Repeat(Indent, depth + 1));
        int last = members.FindLastIndex(m => m.Member is not null);
        for (int i = 0; i < members.Count; i++)
        {
            (List<string> comments, string? member) = members[i];
            if (depth == 0 && i > 0)
            {
                text.Append('\n');
            }

            foreach (string comment in comments)
            {
                text.Append(pad).Append("// ").Append(comment).Append('\n');
            }

            if (member is not null)
            {
                text.Append(pad).Append(member).Append(i < last ? ",\n" : "\n");
            }
        }

        text.Append(string.Concat(Enumerable.Repeat(Indent, depth))).Append('}');
        if (depth == 0)
        {
            text.Append('\n');
        }
    }

    private static void WriteValue(StringBuilder text, Node node, IConfigurationRoot configuration, string prefix, int depth)
    {
        if (node.Children.Count == 0)
        {
            // A value, or an empty object (e.g. "nodes": {}).
            text.Append(node.Value is null ? "{}" : Quote(node.Value));
            return;
        }

        if (IsArray(node))
        {
            string pad = string.Concat(Enumerable.Repeat(Indent, depth + 1));
            text.Append("[\n");
            for (int i = 0; i < node.Children.Count; i++)
            {
                text.Append(pad);
                WriteValue(text, node.Children[i], configuration, prefix + node.Children[i].Name + ":", depth + 1);
                text.Append(i < node.Children.Count - 1 ? ",\n" : "\n");
            }

            text.Append(string.Concat(Enumerable.Repeat(Indent, depth))).Append(']');
            return;
        }

        var inner = new StringBuilder();
        WriteObject(inner, node, configuration, prefix, depth);
        text.Append(inner);
    }

    private static bool IsKazeSection(string prefix) => prefix.Length > 1 && KazeSections.Contains(prefix.TrimEnd(':'));

    // "0", "1", … "n-1": a JSON array in the file (the configuration numbers its elements).
    // Sorts the children by number when it is one: by name, "10" comes before "2".
    private static bool IsArray(Node node)
    {
        var indexes = new List<(int Index, Node Child)>(node.Children.Count);
        foreach (Node child in node.Children)
        {
            if (!int.TryParse(child.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= node.Children.Count)
            {
                return false;
            }

            indexes.Add((index, child));
        }

        indexes.Sort((a, b) => a.Index.CompareTo(b.Index));
        for (int i = 0; i < indexes.Count; i++)
        {
            if (indexes[i].Index != i)
            {
                return false;
            }
        }

        node.Children.Clear();
        node.Children.AddRange(indexes.Select(x => x.Child));
        return true;
    }

    private static string Describe(Setting setting, string? source)
    {
        string text = setting.Description;
        if (setting.Default is not null)
        {
            text += $" Default: {setting.Default}.";
        }
        else if (!text.Contains("Default", StringComparison.Ordinal))
        {
            text += " Default: none.";
        }

        return source is null ? text : text + " Set by " + source + ".";
    }

    /// <summary>Which layer the value of <paramref name="path"/> comes from, or null for the default.</summary>
    private static string? Source(IConfigurationRoot configuration, string path)
    {
        SettingOrigin origin = SettingsLoader.OriginOf(configuration, path);
        return origin.Layer switch
        {
            SettingLayer.File => "the file",
            SettingLayer.Environment => $"the environment ({origin.Name})",
            SettingLayer.CommandLine => "the command line",
            _ => null,
        };
    }

    private static string Quote(string value) =>
        "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value + "\"";

    /// <summary>The configuration as a tree: kaze's settings in catalog order first, then every other key in the order of its name.</summary>
    private static Node Tree(IConfiguration configuration)
    {
        var root = new Node("", null);
        foreach (Setting setting in SettingsCatalog.All)
        {
            root.Child(setting.Path.Split(':'));
        }

        foreach (KeyValuePair<string, string?> pair in configuration.AsEnumerable().OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            Node node = root.Child(pair.Key.Split(':'));
            if (pair.Value is not null)
            {
                node.Value = pair.Value;
            }
        }

        return root;
    }

    private sealed class Node(string name, string? value)
    {
        public string Name { get; } = name;

        public string? Value { get; set; } = value;

        public List<Node> Children { get; } = [];

        public Node Child(string[] path)
        {
            Node node = this;
            foreach (string part in path)
            {
                Node? next = node.Children.Find(c => c.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
                if (next is null)
                {
                    next = new Node(part, null);
                    node.Children.Add(next);
                }

                node = next;
            }

            return node;
        }
    }
}
