using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kaze.Sidecar.Configuration;

/// <summary>
/// The JSON schema (draft 2020-12) of kaze.json, made from <see cref="SettingsCatalog"/>: every
/// setting with its description, its default and the values it takes, for editors
/// (<c>kaze config schema</c>). It says less than kaze checks (that a file exists, rules between
/// settings), never more: a file kaze accepts is valid against it.
/// </summary>
public static class SettingsSchema
{
    /// <summary>The draft the schema follows.</summary>
    public const string Draft = "https://json-schema.org/draft/2020-12/schema";

    /// <summary>The schema as a JSON object.</summary>
    public static JsonObject Build()
    {
        var properties = new JsonObject
        {
            [SettingsCatalog.SchemaKey] = new JsonObject
            {
                ["type"] = "string",
                ["description"] = "The JSON schema of this file, for editors (`kaze config schema`); kaze ignores it.",
            },
        };
        foreach (Setting setting in SettingsCatalog.All)
        {
            int colon = setting.Path.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                properties[setting.Path] = setting.Schema();
                continue;
            }

            // Nested objects for each part of the path: "discovery:etcd:ttl" → discovery.etcd.ttl.
            string[] parts = setting.Path.Split(':');
            JsonObject level = properties;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                if (level[parts[i]] is not JsonObject group)
                {
                    group = new JsonObject
                    {
                        ["type"] = "object",
                        ["description"] = i == 0 ? SettingsCatalog.FindSection(parts[i])?.Description : null,
                        ["properties"] = new JsonObject(),
                        ["additionalProperties"] = false,
                    };
                    if (i != 0)
                    {
                        group.Remove("description");
                    }

                    level[parts[i]] = group;
                }

                level = (JsonObject)group["properties"]!;
            }

            level[parts[^1]] = setting.Schema();
        }

        return new JsonObject
        {
            ["$schema"] = Draft,
            ["title"] = "kaze.json",
            ["description"] = "The configuration of kaze, the Kaze sidecar (docs/cli.md). Every value may also be written as a string, as `kaze config dump` writes them.",
            ["type"] = "object",
            ["properties"] = properties,
            ["additionalProperties"] = false,
        };
    }

    /// <summary>The schema as indented JSON text.</summary>
    public static string Write() => Build().ToJsonString(new JsonSerializerOptions
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
