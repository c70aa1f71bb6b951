using System.Buffers;
using System.Text.Json;

namespace Kaze.Sidecar.Health;

/// <summary>
/// The bodies of <c>/healthz</c> and <c>/readyz</c> (docs/metrics.md): short JSON objects, e.g.
/// <c>{"status":"alive"}</c> and
/// <c>{"status":"ready","checks":{"sidecar":{"ready":true,"detail":"started"},…}}</c>.
/// </summary>
internal static class HealthJson
{
    /// <summary>Content type of both bodies.</summary>
    public const string ContentType = "application/json; charset=utf-8";

    /// <summary>The body of <c>/healthz</c>: the process is alive and its HTTP listener answers.</summary>
    public static byte[] Alive() => "{\"status\":\"alive\"}\n"u8.ToArray();

    /// <summary>The body of <c>/readyz</c>: the verdict, then each check with what it saw.</summary>
    public static byte[] Ready(ReadinessReport report)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("status", report.IsReady ? "ready" : "not ready");
            json.WriteStartObject("checks");
            foreach (KeyValuePair<string, ReadinessCheck> check in report.Checks)
            {
                json.WriteStartObject(check.Key);
                json.WriteBoolean("ready", check.Value.IsReady);
                json.WriteString("detail", check.Value.Detail);
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
