using System.Globalization;

namespace Kaze.Sidecar.Configuration;

/// <summary>Parsers for setting values, each with an error message that says what is allowed.</summary>
public static class SettingValues
{
    /// <summary>"5s", "500ms", "2m", "1h", "1d", "1.5s", or a plain number of seconds.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value, out string error)
    {
        value = default;
        error = $"'{text}' is not a duration: use e.g. 5s, 500ms, 2m or 0";
        string t = text.Trim();
        (string number, double scale) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (t[..^2], 0.001),
            _ when t.EndsWith('s') || t.EndsWith('S') => (t[..^1], 1.0),
            _ when t.EndsWith('m') || t.EndsWith('M') => (t[..^1], 60.0),
            _ when t.EndsWith('h') || t.EndsWith('H') => (t[..^1], 3600.0),
            _ when t.EndsWith('d') || t.EndsWith('D') => (t[..^1], 86400.0),
            _ => (t, 1.0),
        };
        if (!double.TryParse(number.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) || n < 0 || n * scale > 365 * 24 * 3600)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(n * scale);
        return true;
    }

    /// <summary>"1MiB", "64KiB", "4096", "1m", "64k": bytes, binary units.</summary>
    public static bool TryParseSize(string text, out long value, out string error)
    {
        value = 0;
        error = $"'{text}' is not a size: use e.g. 65536, 64KiB or 1MiB";
        string t = text.Trim();
        long scale = 1;
        foreach ((string suffix, long s) in new[] { ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("k", 1L << 10), ("K", 1L << 10), ("m", 1L << 20), ("M", 1L << 20), ("g", 1L << 30), ("G", 1L << 30) })
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                t = t[..^suffix.Length];
                scale = s;
                break;
            }
        }

        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / scale)
        {
            return false;
        }

        value = n * scale;
        return true;
    }
}
