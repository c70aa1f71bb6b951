using System.CommandLine;
using Kaze.Sidecar.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>
/// The flags `kaze run` and `kaze sidecar` share. Each maps to a setting (see SettingsCatalog);
/// only flags actually given become a configuration layer, so a flag's default never overrides
/// kaze.json or the environment. The help shows each default from the catalog.
/// </summary>
internal sealed class SidecarFlags
{
    public Option<string> Ident { get; } = Setting("--ident", "ident", "IDENT");

    public Option<string> Listen { get; } = Setting("--listen", "listen", "HOST:PORT");

    public Option<string[]> Nodes { get; } = new("--node")
    {
        Description = "A static peer, IDENT=HOST:PORT; repeat for more. Adds to (and for the same ident overrides) the \"nodes\" of kaze.json. [default: none] (setting \"nodes:<IDENT>\", env KAZE_NODES__<IDENT>)",
        HelpName = "IDENT=HOST:PORT",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string[]> Names { get; } = new("--name")
    {
        Description = "A service name of this node (1-63 characters of a-z 0-9 . -); repeat for more. Replaces the \"names\" of kaze.json. [default: none] (setting \"names\", env KAZE_NAMES, names separated by commas)",
        HelpName = "NAME",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string> Etcd { get; } = Setting("--etcd", "discovery:etcd:endpoints", "URL[,URL…]");

    public Option<string> Advertise { get; } = Setting("--advertise", "discovery:advertise", "HOST:PORT");

    public Option<string> Config { get; } = new("--config")
    {
        Description = $"The configuration file (JSON, comments allowed). [default: ./{SettingsLoader.FileName} if it exists, else ~/.config/kaze/{SettingsLoader.FileName} if it exists, else none]",
        HelpName = "FILE",
    };

    public Option<string> SecretFile { get; } = Setting("--secret-file", "secretFile", "FILE");

    public Option<string> Tls { get; } = Setting("--tls", "tls:dir", "DIR");

    public Option<string> LogLevel { get; } = Setting("--log-level", "log:level", "LEVEL");

    public Option<string> Metrics { get; } = Setting("--metrics", "metrics:listen", "HOST:PORT|off");

    public IEnumerable<Option> All => [Ident, Listen, Nodes, Names, Etcd, Advertise, Config, SecretFile, Tls, LogLevel, Metrics];

    /// <summary>The configuration layer made of the flags given on the command line.</summary>
    public List<KeyValuePair<string, string?>> GivenFlags(ParseResult parse, List<string> errors)
    {
        var given = new List<KeyValuePair<string, string?>>();
        Add(parse, Ident, "ident", given);
        Add(parse, Listen, "listen", given);
        Add(parse, SecretFile, "secretFile", given);
        Add(parse, Tls, "tls:dir", given);
        Add(parse, LogLevel, "log:level", given);
        Add(parse, Metrics, "metrics:listen", given);
        Add(parse, Etcd, "discovery:etcd:endpoints", given);
        Add(parse, Advertise, "discovery:advertise", given);
        if (parse.GetValue(Names) is { Length: > 0 } names)
        {
            // One value, not names:0, names:1…: it replaces a list of kaze.json instead of merging with it item by item.
            given.Add(new("names", string.Join(',', names)));
        }
        foreach (string node in parse.GetValue(Nodes) ?? [])
        {
            int eq = node.IndexOf('=');
            if (eq <= 0)
            {
                errors.Add($"--node: '{node}' is not IDENT=HOST:PORT, e.g. 0.0.0.2=127.0.0.1:7102");
                continue;
            }

            given.Add(new("nodes:" + node[..eq], node[(eq + 1)..]));
        }

        return given;
    }

    public static void Add(ParseResult parse, Option<string> option, string path, List<KeyValuePair<string, string?>> given)
    {
        if (parse.GetResult(option) is { Implicit: false })
        {
            given.Add(new(path, parse.GetValue(option)));
        }
    }

    public static Option<string> Setting(string name, string path, string helpName)
    {
        Setting info = SettingsCatalog.Find(path) ?? throw new ArgumentException($"'{path}' is not in the settings catalog.", nameof(path));
        return new Option<string>(name)
        {
            Description = info.Description + (info.Default is null ? " [default: none]" : $" [default: {info.Default}]") + $" (setting \"{info.Path}\", env {info.EnvironmentVariable})",
            HelpName = helpName,
        };
    }
}
