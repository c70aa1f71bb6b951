using System.Collections;
using System.Text.Json;
using Json.Schema;
using Kaze.Sidecar.Configuration;

namespace Kaze.Sidecar.Tests.Configuration;

/// <summary>
/// The JSON schema of kaze.json (<c>kaze config schema</c>) is a valid draft 2020-12 schema, made
/// from the catalog, and agrees with kaze: what kaze accepts is valid against it, and the wrong
/// types and unknown keys kaze refuses are refused by it too.
/// </summary>
public sealed class SettingsSchemaTests
{
    private static readonly JsonSchema Schema = JsonSchema.FromText(SettingsSchema.Write());

    [Fact]
    public void Schema_IsAValidDraft202012Schema()
    {
        using JsonDocument schema = JsonDocument.Parse(SettingsSchema.Write());

        EvaluationResults results = MetaSchemas.Draft202012.Evaluate(schema.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.True(results.IsValid, Describe(results));
    }

    [Fact]
    public void Schema_HasEverySettingWithItsDescriptionAndDefault()
    {
        using JsonDocument schema = JsonDocument.Parse(SettingsSchema.Write());

        foreach (Setting setting in SettingsCatalog.All)
        {
            JsonElement node = schema.RootElement.GetProperty("properties");
            string[] parts = setting.Path.Split(':');
            for (int i = 0; i < parts.Length; i++)
            {
                node = node.GetProperty(parts[i]);
                if (i < parts.Length - 1)
                {
                    node = node.GetProperty("properties");
                }
            }

            Assert.Equal(setting.Description, node.GetProperty("description").GetString());
            if (setting.Default is not null)
            {
                Assert.Equal(setting.Default, node.GetProperty("default").GetString());
            }
        }
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{ "$schema": "./kaze.schema.json", "ident": "0.0.0.7", "listen": "off", "nodes": { "0.0.0.2": "127.0.0.1:7102" } }""")]
    [InlineData("""{ "channel": { "name": "app-1", "ringSize": 65536 }, "run": { "grace": 2.5 }, "corral": { "idleTimeout": "30s", "maxQueuedPackets": 10 } }""")]
    [InlineData("""{ "log": { "level": "DEBUG", "levels": { "Host": "info" }, "format": "json", "fileSizeLimit": "10MiB", "retainedFiles": "3" } }""")]
    [InlineData("""{ "metrics": { "listen": "127.0.0.1:0", "otlpEndpoint": "http://127.0.0.1:4318/v1/metrics", "otlpProtocol": "http/protobuf", "otlpInterval": "500ms" } }""")]
    [InlineData("""{ "rateLimits": { "total": { "permitsPerSecond": 100, "burst": 20, "mode": "wait", "maxWait": "50ms" }, "perBodyType": { "*": { "permitsPerSecond": 1.5 } }, "maxPartitions": 9 } }""")]
    public void Schema_FilesKazeAccepts_AreValid(string json)
    {
        Assert.True(KazeAccepts(json, out string problems), problems);

        EvaluationResults results = Evaluate(json);

        Assert.True(results.IsValid, Describe(results));
    }

    [Theory]
    [InlineData("""{ "idnet": "0.0.0.2" }""")]
    [InlineData("""{ "ident": { "value": "0.0.0.2" } }""")]
    [InlineData("""{ "nodes": "0.0.0.2=127.0.0.1:7102" }""")]
    [InlineData("""{ "corral": { "idleTimout": "5s" } }""")]
    [InlineData("""{ "corral": { "maxFrameSize": 100 } }""")]
    [InlineData("""{ "run": { "grace": "soon" } }""")]
    [InlineData("""{ "log": { "format": "xml" } }""")]
    [InlineData("""{ "rateLimits": { "total": { "burst": 5 } } }""")]
    [InlineData("""{ "rateLimits": { "total": { "permitsPerSecond": 5, "brust": 5 } } }""")]
    public void Schema_TypesAndKeysKazeRefuses_AreInvalidToo(string json)
    {
        Assert.False(KazeAccepts(json, out _), "kaze accepted " + json);

        Assert.False(Evaluate(json).IsValid, "the schema accepted " + json);
    }

    [Fact]
    public void Schema_ConfigDumpOfTheDefaults_IsValid()
    {
        // What `kaze config dump` writes: every value as a string.
        var values = new Dictionary<string, object>();
        foreach (KeyValuePair<string, string?> pair in SettingsCatalog.Defaults)
        {
            string[] parts = pair.Key.Split(':');
            Dictionary<string, object> node = values;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                node = (Dictionary<string, object>)(node.TryGetValue(parts[i], out object? inner) ? inner : node[parts[i]] = new Dictionary<string, object>());
            }

            node[parts[^1]] = pair.Value!;
        }

        EvaluationResults results = Evaluate(JsonSerializer.Serialize(values));

        Assert.True(results.IsValid, Describe(results));
    }

    private static bool KazeAccepts(string json, out string problems)
    {
        string file = Path.Combine(Path.GetTempPath(), $"kaze-schema-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, json);
            KazeSettings? settings = KazeSettings.Read(SettingsLoader.Build(file, [], new Hashtable()), out List<SettingProblem> found);
            problems = string.Join("\n", found);
            return settings is not null;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static EvaluationResults Evaluate(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return Schema.Evaluate(document.RootElement.Clone(), new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Describe(EvaluationResults results) =>
        string.Join("\n", (results.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));
}
