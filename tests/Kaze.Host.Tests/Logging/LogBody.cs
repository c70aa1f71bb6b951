using System.Text.Json;
using Kaze.Host.Testing;
using Kaze.Protocol;

namespace Kaze.Host.Tests.Logging;

/// <summary>Reads what the provider sent: the `log` notifies and their JSON bodies.</summary>
internal static class LogBody
{
    public static bool IsLog(SentPacket packet) => packet.BodyType == ControlBodyTypes.Log;

    public static IReadOnlyList<SentPacket> Logs(InMemorySidecar sidecar) => [.. sidecar.Sent.Where(IsLog)];

    public static JsonElement Parse(SentPacket packet)
    {
        using JsonDocument document = JsonDocument.Parse(packet.Body);
        return document.RootElement.Clone();
    }

    public static string Text(JsonElement body, string field) => body.GetProperty(field).GetString()!;
}
