using Kaze.Mesh.Tls;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Kaze.Core;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Mesh;

namespace Kaze.Sidecar.Configuration;

/// <summary>
/// The kinds of single values settings take (idents, addresses, durations, sizes, numbers, names
/// from a list…), each with its parser, its message and its JSON schema. The catalog builds every
/// setting from these.
/// </summary>
internal static class SettingKinds
{
    /// <summary>The longest duration a timer of .NET takes (int.MaxValue milliseconds is 24.8 days).</summary>
    public static readonly TimeSpan MaxTimer = TimeSpan.FromDays(24);

    public static ValueShape<Ident> Ident(bool allowAny) => new(
        "an ident, e.g. 0.0.0.1",
        (string text, out Ident value, out string error) =>
        {
            if (!Kaze.Protocol.Ident.TryParse(text.Trim(), out value, out string? parseError))
            {
                error = parseError;
                return false;
            }

            if (!allowAny && value == Kaze.Protocol.Ident.Any)
            {
                error = "'0.0.0.0' is not a node's ident: 0.0.0.0 means \"the host of the sidecar that reads this\" as a destination; give e.g. 0.0.0.1";
                return false;
            }

            error = "";
            return true;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = IdentPattern });

    public const string IdentPattern = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$";

    public static ValueShape<NodeAddress> Address() => new(
        "HOST:PORT, e.g. 127.0.0.1:7102",
        (string text, out NodeAddress value, out string error) =>
        {
            bool ok = NodeAddress.TryParse(text.Trim(), out NodeAddress? parsed, out error);
            value = parsed ?? default;
            return ok;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^.+:[0-9]{1,5}$" });

    /// <summary>A static node's value: HOST:PORT, optionally followed by /NAME[,NAME…] (its service names).</summary>
    public static ValueShape<StaticNode> StaticNodeValue() => new(
        "HOST:PORT or HOST:PORT/NAME[,NAME…], e.g. 127.0.0.1:7102/orders",
        (string text, out StaticNode value, out string error) =>
        {
            value = null!;
            string t = text.Trim();
            int slash = t.IndexOf('/', StringComparison.Ordinal);
            string addressText = slash < 0 ? t : t[..slash];
            if (!NodeAddress.TryParse(addressText.Trim(), out NodeAddress? address, out error))
            {
                return false;
            }

            var names = new List<string>();
            if (slash >= 0)
            {
                foreach (string name in t[(slash + 1)..].Split(',', StringSplitOptions.TrimEntries))
                {
                    if (!Kaze.Protocol.ServiceName.IsValid(name, out string? problem))
                    {
                        error = problem;
                        return false;
                    }

                    if (!names.Contains(name))
                    {
                        names.Add(name);
                    }
                }

                if (names.Count > SettingsCatalog.MaxNames)
                {
                    error = $"'{text}' has {names.Count} names; at most {SettingsCatalog.MaxNames}";
                    return false;
                }
            }

            value = new StaticNode(address!.Value, names);
            error = "";
            return true;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^.+:[0-9]{1,5}(/[a-z0-9.-]{1,63}(,[a-z0-9.-]{1,63})*)?$" });

    /// <summary>A listen address (port 0: any free port), or "off" (null).</summary>
    public static ValueShape<NodeAddress?> ListenAddress() => new(
        "HOST:PORT (port 0: any free port) or \"off\"",
        (string text, out NodeAddress? value, out string error) =>
        {
            value = null;
            error = "";
            string t = text.Trim();
            if (string.Equals(t, "off", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (NodeAddress.TryParse(t, allowPortZero: true, out value, out string parseError))
            {
                return true;
            }

            error = parseError + ", or \"off\"";
            return false;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^([oO][fF][fF]|.+:[0-9]{1,5})$" });

    public static ValueShape<TimeSpan> Duration(TimeSpan min, TimeSpan max) => new(
        $"a duration from {FormatDuration(min)} to {FormatDuration(max)}, e.g. 5s, 500ms, 2m",
        (string text, out TimeSpan value, out string error) =>
        {
            if (!SettingValues.TryParseDuration(text, out value, out error))
            {
                return false;
            }

            if (value < min || value > max)
            {
                error = $"{text.Trim()} is not from {FormatDuration(min)} to {FormatDuration(max)}";
                return false;
            }

            return true;
        },
        () => new JsonObject
        {
            ["type"] = new JsonArray("string", "number"),
            ["pattern"] = "^\\s*[0-9]+(\\.[0-9]+)?\\s*([mM][sS]|[sSmMhHdD])?\\s*$",
            ["minimum"] = min.TotalSeconds,
            ["maximum"] = max.TotalSeconds,
        });

    public static ValueShape<long> Size(long min, long max, bool powerOfTwo) => new(
        $"a size {(powerOfTwo ? "that is a power of two " : "")}from {FormatSize(min)} to {FormatSize(max)}, e.g. 65536, 64KiB, 1MiB",
        (string text, out long value, out string error) =>
        {
            if (!SettingValues.TryParseSize(text, out value, out error))
            {
                return false;
            }

            if (value < min || value > max || (powerOfTwo && (value & (value - 1)) != 0))
            {
                error = $"{text.Trim()} is not {(powerOfTwo ? "a power of two " : "")}from {FormatSize(min)} to {FormatSize(max)}";
                return false;
            }

            return true;
        },
        () => new JsonObject
        {
            ["type"] = new JsonArray("string", "integer"),
            ["pattern"] = "^\\s*[0-9]+\\s*(KiB|MiB|GiB|[kKmMgG])?\\s*$",
            ["minimum"] = min,
            ["maximum"] = max,
        });

    public static ValueShape<int> Int(int min, int max) => new(
        $"a whole number from {min} to {max}",
        (string text, out int value, out string error) =>
        {
            error = $"'{text}' is not a whole number from {min} to {max}";
            return int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
        },
        () => new JsonObject
        {
            ["type"] = new JsonArray("integer", "string"),
            ["pattern"] = min < 0 ? "^\\s*-?[0-9]+\\s*$" : "^\\s*[0-9]+\\s*$",
            ["minimum"] = min,
            ["maximum"] = max,
        });

    public static ValueShape<double> Number(double min, double max, string minText, string maxText) => new(
        $"a number from {minText} to {maxText}",
        (string text, out double value, out string error) =>
        {
            error = $"'{text}' is not a number from {minText} to {maxText}";
            return double.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
        },
        () => new JsonObject
        {
            ["type"] = new JsonArray("number", "string"),
            ["pattern"] = "^\\s*[0-9]+(\\.[0-9]+)?\\s*$",
            ["minimum"] = min,
            ["maximum"] = max,
        });

    /// <summary>One of a list of names, in any case.</summary>
    public static ValueShape<T> Choice<T>(params (string Name, T Value)[] choices)
    {
        string names = string.Join(", ", choices.Select(c => c.Name).Distinct());
        return new(
            "one of " + names,
            (string text, out T value, out string error) =>
            {
                string t = text.Trim();
                foreach ((string name, T choice) in choices)
                {
                    if (string.Equals(name, t, StringComparison.OrdinalIgnoreCase))
                    {
                        value = choice;
                        error = "";
                        return true;
                    }
                }

                value = default!;
                error = $"'{text}' is not one of {names}{DidYouMean.Suggest(t, choices.Select(c => c.Name))}";
                return false;
            },
            () => new JsonObject
            {
                ["anyOf"] = new JsonArray(
                    new JsonObject { ["enum"] = new JsonArray([.. choices.Select(c => (JsonNode)JsonValue.Create(c.Name)!)]) },
                    new JsonObject { ["type"] = "string", ["pattern"] = "^\\s*(" + string.Join("|", choices.Select(c => AnyCase(c.Name))) + ")\\s*$" }),
            });
    }

    /// <summary>Any text; <paramref name="check"/> returns why it is not acceptable, or null.</summary>
    public static ValueShape<string> Text(string expected, Func<string, string?>? check = null) => new(
        expected,
        (string text, out string value, out string error) =>
        {
            value = text;
            error = check?.Invoke(text) ?? "";
            return error.Length == 0;
        },
        () => new JsonObject { ["type"] = "string" });

    public static ValueShape<string> ChannelName() => Text(
        "a channel name: 1-200 characters of A-Z a-z 0-9 . _ -",
        text => ShmChannel.IsValidName(text, out string reason) ? null : reason);

    public static ValueShape<Uri> HttpUrl() => new(
        "an http:// or https:// URL, e.g. http://127.0.0.1:4317",
        (string text, out Uri value, out string error) =>
        {
            error = $"'{text}' is not an http:// or https:// URL, e.g. http://127.0.0.1:4317";
            if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https")
            {
                value = uri;
                return true;
            }

            value = null!;
            return false;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^\\s*[hH][tT][tT][pP][sS]?://" });

    /// <summary>A service name (docs/discovery.md): 1-63 characters of a-z 0-9 . -.</summary>
    public static ValueShape<string> ServiceName() => new(
        "a service name: 1-63 characters of a-z 0-9 . -",
        (string text, out string value, out string error) =>
        {
            value = text.Trim();
            if (Kaze.Protocol.ServiceName.IsValid(value, out string? problem))
            {
                error = "";
                return true;
            }

            error = problem;
            return false;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^[a-z0-9.-]{1,63}$" });

    /// <summary>The client URL of an etcd member.</summary>
    public static ValueShape<Uri> EtcdUrl() => new(
        "an etcd client URL, e.g. http://127.0.0.1:2379",
        (string text, out Uri value, out string error) =>
        {
            value = null!;
            if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out Uri? uri))
            {
                error = $"'{text}' is not an http:// or https:// URL of an etcd member, e.g. http://127.0.0.1:2379";
                return false;
            }

            if (!Kaze.Resolver.Etcd.EtcdRegistryOptions.IsEndpoint(uri, out string? problem))
            {
                error = problem!;
                return false;
            }

            value = uri;
            error = "";
            return true;
        },
        () => new JsonObject { ["type"] = "string", ["pattern"] = "^\\s*[hH][tT][tT][pP][sS]?://" });

    /// <summary>A key prefix in etcd: "" or starting with '/', printable ASCII, at most 200 characters.</summary>
    public static ValueShape<string> EtcdPrefix() => Text(
        "a key prefix: \"\" or '/' then printable ASCII, at most 200 characters, e.g. /kaze",
        text =>
        {
            if (text.Length > 200)
            {
                return $"'{text[..40]}…' has {text.Length} characters; at most 200";
            }

            if (text.Length > 0 && text[0] != '/')
            {
                return $"'{text}' does not start with '/'; e.g. /{text}";
            }

            foreach (char c in text)
            {
                if (c < 0x21 || c > 0x7E)
                {
                    return $"'{text}' has a character that is not printable ASCII (U+{(int)c:X4})";
                }
            }

            return null;
        });

    /// <summary>A file that kaze writes (a log file): not a directory.</summary>
    public static ValueShape<string> OutputFile() => Text(
        "a file's path",
        text => text.EndsWith('/') || Directory.Exists(text)
            ? $"'{text}' is a directory; name a file in it, e.g. {Path.Join(text, "kaze.log")}"
            : null);

    /// <summary>A file that must exist (a plugin's assembly).</summary>
    public static ValueShape<string> ExistingFile() => Text(
        "the path of an existing file",
        text => Directory.Exists(text) ? $"'{text}' is a directory, not a file"
            : !File.Exists(text) ? $"'{text}' does not exist"
            : null);

    /// <summary>The mesh's shared secret, read from its file when the settings are read (every problem with the file is a settings problem).</summary>
    public static ValueShape<SecretFile> Secret() => new(
        "the path of a file holding the mesh's shared secret (mode 0600, 1 byte to 64 KiB)",
        (string text, out SecretFile value, out string error) =>
        {
            value = null!;
            error = "";
            if (Directory.Exists(text))
            {
                error = $"'{text}' is a directory; name the file that holds the secret";
                return false;
            }

            try
            {
                value = new SecretFile(text, CorralOptions.LoadSecret(text));
                return true;
            }
            catch (InvalidOperationException e)
            {
                error = e.Message;
                return false;
            }
        },
        () => new JsonObject { ["type"] = "string" });

    /// <summary>A TLS directory (ca.crt, node.crt, node.key), loaded and checked when the settings are read.</summary>
    public static ValueShape<TlsCredentials> TlsDirectory() => new(
        "the path of a TLS directory holding ca.crt, node.crt and node.key (made by `kaze cert issue`)",
        (string text, out TlsCredentials value, out string error) =>
        {
            value = TlsCredentials.Load(text, out List<string> problems)!;
            error = string.Join("; ", problems);
            return value is not null;
        },
        () => new JsonObject { ["type"] = "string" });

    public static string FormatDuration(TimeSpan value) =>
        value == TimeSpan.Zero ? "0"
        : value.Ticks % TimeSpan.TicksPerDay == 0 ? $"{value.TotalDays:0}d"
        : value.Ticks % TimeSpan.TicksPerHour == 0 ? $"{value.TotalHours:0}h"
        : value.Ticks % TimeSpan.TicksPerMinute == 0 ? $"{value.TotalMinutes:0}m"
        : value.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{value.TotalSeconds:0}s"
        : value.Ticks % TimeSpan.TicksPerMillisecond == 0 ? $"{value.TotalMilliseconds:0}ms"
        : $"{value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms";

    public static string FormatSize(long bytes) =>
        bytes >= 1L << 30 && bytes % (1L << 30) == 0 ? $"{bytes >> 30}GiB"
        : bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? $"{bytes >> 20}MiB"
        : bytes >= 1L << 10 && bytes % (1L << 10) == 0 ? $"{bytes >> 10}KiB"
        : bytes.ToString(CultureInfo.InvariantCulture);

    // "json" → "[jJ][sS][oO][nN]": JSON schema patterns have no flag for case.
    private static string AnyCase(string name)
    {
        var pattern = new StringBuilder(name.Length * 4);
        foreach (char c in name)
        {
            if (char.IsAsciiLetter(c))
            {
                pattern.Append('[').Append(char.ToLowerInvariant(c)).Append(char.ToUpperInvariant(c)).Append(']');
            }
            else
            {
                pattern.Append(c is '/' or '.' or '*' or '+' ? "\\" + c : c.ToString());
            }
        }

        return pattern.ToString();
    }
}

/// <summary>A static node: where its sidecar listens and its service names.</summary>
/// <param name="Address">HOST:PORT.</param>
/// <param name="Names">Its service names; empty for none.</param>
public sealed record StaticNode(NodeAddress Address, IReadOnlyList<string> Names)
{
    /// <inheritdoc/>
    public override string ToString() => Names.Count == 0 ? Address.ToString() : $"{Address}/{string.Join(',', Names)}";
}

/// <summary>The shared secret of the mesh and the file it came from.</summary>
/// <param name="Path">The file, as configured.</param>
/// <param name="Secret">Its bytes, less trailing line breaks.</param>
public sealed record SecretFile(string Path, byte[] Secret)
{
    /// <inheritdoc/>
    public override string ToString() => Path;
}
