using System.Collections;
using System.CommandLine;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze config dump [options]</c>: the effective configuration as kaze.json, with comments;
/// <c>kaze config check FILE</c>: every problem in a configuration file.
/// </summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var config = new Command("config", "Show the effective configuration (dump) or validate a configuration file (check).")
        {
            CreateDump(),
            CreateCheck(),

        };
        config.Action = new UsageCheckedAction("config", (parse, ct) =>
            Task.FromResult(UsageCheckedAction.Usage("config", ["say what to do: `kaze config dump` or `kaze config check FILE` (kaze config --help)"])));
        return config;
    }

    private static Command CreateDump()
    {
        var flags = new SidecarFlags();
        Option<string> grace = SidecarFlags.Setting("--grace", "run:grace", "DURATION");
        Option<string> channel = SidecarFlags.Setting("--channel", "channel:name", "NAME");
        Option<string> ringSize = SidecarFlags.Setting("--ring-size", "channel:ringSize", "SIZE");
        var dump = new Command(
            "dump",
            "Print the configuration `kaze run` would use with the same options, as kaze.json: defaults < configuration file < KAZE_* environment < the options given here. " +
            "Each setting has a comment saying what it does, its default and, when it is not the default, what set it; settings that are not set are commented out. " +
            "The output can be saved and given back with --config. Exit codes: 0 printed; 2 the file cannot be read, or a setting is invalid (the configuration is still printed, the problems are listed on stderr).");
        foreach (Option option in flags.All)
        {
            dump.Options.Add(option);
        }

        dump.Options.Add(grace);
        dump.Options.Add(channel);
        dump.Options.Add(ringSize);

        dump.Action = new UsageCheckedAction("config dump", (parse, ct) =>
        {
            var errors = new List<string>();
            List<KeyValuePair<string, string?>> given = flags.GivenFlags(parse, errors);
            SidecarFlags.Add(parse, grace, "run:grace", given);
            SidecarFlags.Add(parse, channel, "channel:name", given);
            SidecarFlags.Add(parse, ringSize, "channel:ringSize", given);
            if (errors.Count > 0)
            {
                return Task.FromResult(UsageCheckedAction.Usage("config dump", errors));
            }

            string? file = SettingsLoader.FindFile(parse.GetValue(flags.Config));
            IConfigurationRoot configuration;
            try
            {
                configuration = SettingsLoader.Build(file, given);
            }
            catch (InvalidDataException e)
            {
                return Task.FromResult(UsageCheckedAction.Usage("config dump", [ConfigText.Unreadable(e)]));
            }

            StandardOutput.Writer.Write(ConfigText.Write(configuration, file));
            KazeSettings.Bind(configuration, out List<string> problems);
            return Task.FromResult(problems.Count == 0
                ? 0
                : UsageCheckedAction.Usage("config dump", problems.Select(p => "invalid: " + p)));
        });
        return dump;
    }

    private static Command CreateCheck()
    {
        var file = new Argument<string>("FILE") { Description = "The configuration file to check, e.g. kaze.json (comments allowed)." };
        var check = new Command(
            "check",
            "Check a configuration file on its own (over the defaults; KAZE_* variables are not read): every setting's value, and keys kaze does not know. " +
            "Exit codes: 0 and \"FILE: ok\" on stdout; 2 and every problem on stderr, each with its key, its value and what is allowed. Unknown top-level keys are warnings only (plugins read their own sections).")
        {
            file,
        };
        check.Action = new UsageCheckedAction("config check", (parse, ct) =>
        {
            string path = parse.GetValue(file)!;
            ConfigCheckResult result = ConfigCheck.Run(path);
            foreach (string warning in result.Warnings)
            {
                StandardError.WriteLine($"kaze config check: {path}: warning: {warning}");
            }

            if (result.Problems.Count > 0)
            {
                UsageCheckedAction.Usage("config check", result.Problems.Select(p => $"{path}: {p}"));
                StandardError.WriteLine($"kaze config check: {path}: {result.Problems.Count} problem{(result.Problems.Count == 1 ? "" : "s")}");
                return Task.FromResult(CommandSettings.UsageError);
            }

            StandardOutput.WriteLine($"{path}: ok");
            return Task.FromResult(0);
        });
        return check;
    }
}

/// <summary>What <c>kaze config check</c> found: problems make the file unusable; warnings do not.</summary>
internal sealed record ConfigCheckResult(IReadOnlyList<string> Problems, IReadOnlyList<string> Warnings);

/// <summary>Validates one configuration file: the settings' values (<see cref="KazeSettings.Bind"/>) and the keys.</summary>
internal static class ConfigCheck
{
    public static ConfigCheckResult Run(string file)
    {
        var problems = new List<string>();
        var warnings = new List<string>();
        IConfigurationRoot configuration;
        try
        {
            // The file alone over the defaults: the environment of whoever runs the check is not the file's.
            configuration = SettingsLoader.Build(file, [], new Hashtable());
        }
        catch (InvalidDataException e)
        {
            string message = ConfigText.Unreadable(e);
            problems.Add(message.StartsWith(file + ": ", StringComparison.Ordinal) ? message[(file.Length + 2)..] : message);
            return new ConfigCheckResult(problems, warnings);
        }

        KazeSettings.Bind(configuration, out List<string> invalid);
        problems.AddRange(invalid);
        CheckKeys(FileKeys(file), problems, warnings);
        return new ConfigCheckResult(problems, warnings);
    }

    /// <summary>Keys inside kaze's own sections must be settings; an unknown top-level key may be a plugin's section.</summary>
    internal static void CheckKeys(IEnumerable<string> keys, List<string> problems, List<string> warnings)
    {
        var settings = SettingsCatalog.All.ToDictionary(s => s.Path, StringComparer.OrdinalIgnoreCase);
        var sections = SettingsCatalog.All.Where(s => s.Path.Contains(':', StringComparison.Ordinal))
            .Select(s => s.Path[..s.Path.IndexOf(':', StringComparison.Ordinal)])
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var plugins = BuiltInPlugins.Create().Select(p => p.Name).Append("plugins").ToHashSet(StringComparer.OrdinalIgnoreCase);
        var warned = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in keys)
        {
            string top = key.Split(':')[0];
            // A setting, an entry of an object-valued one ("nodes:0.0.0.2", "log:levels:Host"), or a plugin's section.
            if (settings.ContainsKey(key) || settings.Keys.Any(path => key.StartsWith(path + ":", StringComparison.OrdinalIgnoreCase)) || plugins.Contains(top))
            {
                continue;
            }

            if (sections.Contains(top))
            {
                string[] known = [.. SettingsCatalog.All.Where(s => s.Path.StartsWith(top + ":", StringComparison.OrdinalIgnoreCase)).Select(s => s.Path[(top.Length + 1)..])];
                problems.Add($"{key}: not a setting of \"{top}\"{Suggest(key[(top.Length + 1)..], known)}; its settings are {string.Join(", ", known)}");
            }
            else if (warned.Add(top))
            {
                string[] topLevel = [.. SettingsCatalog.All.Select(s => s.Path.Split(':')[0]).Distinct(StringComparer.Ordinal)];
                warnings.Add($"\"{top}\" is not a kaze setting{Suggest(top, topLevel)}: kaze ignores it, unless a plugin named \"{top}\" reads it");
            }
        }
    }

    // The keys of the file itself, leaves only (values, and empty objects or arrays).
    private static IEnumerable<string> FileKeys(string file)
    {
        IConfigurationRoot own = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false).Build();
        return own.AsEnumerable().Where(pair => !own.GetSection(pair.Key).GetChildren().Any()).Select(pair => pair.Key).OrderBy(k => k, StringComparer.Ordinal);
    }

    private static string Suggest(string typed, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in known)
        {
            int distance = EditDistance(typed.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return best is not null && bestDistance <= Math.Max(1, typed.Length / 3) ? $" (did you mean \"{best}\"?)" : "";
    }

    // Edits (insert, delete, substitute, swap two neighbours) from a to b: "idnet" is 1 from "ident".
    private static int EditDistance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(d[i - 1, j - 1] + cost, Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
