using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Kaze.Resolver;

/// <summary>Where a sidecar listens: a host name or IP literal and a TCP port.</summary>
public readonly record struct NodeAddress(string Host, int Port)
{
    /// <summary>Parses "HOST:PORT", "IPv4:PORT" or "[IPv6]:PORT".</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out NodeAddress? address, out string error) =>
        TryParse(text, allowPortZero: false, out address, out error);

    /// <summary>Parses "HOST:PORT"; port 0 ("any free port") is accepted when <paramref name="allowPortZero"/> (listen addresses).</summary>
    public static bool TryParse(string? text, bool allowPortZero, [NotNullWhen(true)] out NodeAddress? address, out string error)
    {
        address = null;
        error = $"'{text}' is not an address: expected HOST:PORT, e.g. 127.0.0.1:6081 or [::1]:6081";
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        string host = text[..colon];
        if (host.StartsWith('['))
        {
            if (!host.EndsWith(']') || host.Length < 3)
            {
                return false;
            }

            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            // An IPv6 literal needs brackets, or the port is ambiguous.
            return false;
        }

        int lowest = allowPortZero ? 0 : 1;
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port < lowest || port > 65535)
        {
            error = $"'{text}' has no valid port: expected {lowest}-65535";
            return false;
        }

        address = new NodeAddress(host, port);
        error = "";
        return true;
    }

    /// <summary>Parses "HOST:PORT" or throws <see cref="FormatException"/> with the reason.</summary>
    public static NodeAddress Parse(string text) =>
        TryParse(text, out NodeAddress? address, out string error) ? address.Value : throw new FormatException(error);

    /// <inheritdoc/>
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
