using System.Diagnostics.CodeAnalysis;
using Kaze.Host;
using Kaze.Protocol;

namespace Kaze.MeshHost;

/// <summary>Routes as the control commands write them: node:I, random:I/M, broadcast:I/M, multicast:I,I,..., name:N, every:N</summary>
internal static class RouteText
{
    public static bool TryParse(string text, out KazeRoute route, [NotNullWhen(false)] out string? error)
    {
        route = default;
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string kind = colon < 0 ? text : text[..colon];
        string value = colon < 0 ? "" : text[(colon + 1)..];
        try
        {
            switch (kind)
            {
                case "node":
                    route = KazeRoute.Node(Ident.Parse(value));
                    break;
                case "random" or "broadcast":
                    int slash = value.IndexOf('/', StringComparison.Ordinal);
                    if (slash < 0)
                    {
                        error = $"'{text}': expected {kind}:IDENT/MASK";
                        return false;
                    }

                    Ident ident = Ident.Parse(value.AsSpan(0, slash));
                    uint mask = Ident.Parse(value.AsSpan(slash + 1)).Value;
                    route = kind == "random" ? KazeRoute.Random(ident, mask) : KazeRoute.Broadcast(ident, mask);
                    break;
                case "multicast":
                    route = KazeRoute.Multicast([.. value.Split(',').Select(part => Ident.Parse(part))]);
                    break;
                case "name":
                    route = KazeRoute.Name(value);
                    break;
                case "every":
                    route = KazeRoute.NameBroadcast(value);
                    break;
                default:
                    error = $"'{text}': expected node:, random:, broadcast:, multicast:, name: or every:";
                    return false;
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            error = $"'{text}': {e.Message}";
            return false;
        }

        error = null;
        return true;
    }
}
