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
        var config = new Command("config", "Show the effective configuration (dump), validate a configuration file (check), or print the JSON schema of kaze.json (schema).")
        {
            CreateDump(),
            CreateCheck(),
            CreateSchema(),
        };
        config.Action = new UsageCheckedAction("config", (parse, ct) =>
            Task.FromResult(UsageCheckedAction.Usage("config", ["say what to do: `kaze config dump`, `kaze config check FILE` or `kaze config schema` (kaze config --help)"])));
        return config;
    }

    private static Command CreateDump()
    {
        var flags = new SidecarFlags();
        Option<string> grace = SidecarFlags.Setting("--grace", "run:grace", "DURATION");
        Option<string> channel = SidecarFlags.Setting("--channel", "channel:name", "NAME");
        Option<string> ringSize = SidecarFlags.Setting("--ring-size", "channel:ringSize", "SIZE");
        Option<string> appPort = SidecarFlags.Setting("--app-port", "http:appPort", "PORT");
        Option<string> httpPort = SidecarFlags.Setting("--http-port", "http:port", "PORT");
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
        dump.Options.Add(appPort);
        dump.Options.Add(httpPort);

        dump.Action = new UsageCheckedAction("config dump", (parse, ct) =>
        {
            var errors = new List<string>();
            List<KeyValuePair<string, string?>> given = flags.GivenFlags(parse, errors);
            SidecarFlags.Add(parse, grace, "run:grace", given);
            SidecarFlags.Add(parse, channel, "channel:name", given);
            SidecarFlags.Add(parse, ringSize, "channel:ringSize", given);
            SidecarFlags.Add(parse, appPort, "http:appPort", given);
            SidecarFlags.Add(parse, httpPort, "http:port", given);
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
            KazeSettings.Read(configuration, out List<SettingProblem> problems);
            return Task.FromResult(problems.Count == 0
                ? 0
                : UsageCheckedAction.Usage("config dump", problems.Select(p => "invalid: " + SettingsLoader.Describe(configuration, file, p))));
        });
        return dump;
    }

    private static Command CreateCheck()
    {
        var file = new Argument<string>("FILE") { Description = "The configuration file to check, e.g. kaze.json (comments allowed)." };
        var check = new Command(
            "check",
            "Check a configuration file on its own (over the defaults; KAZE_* variables are not read) exactly as `kaze run --config FILE` checks it at start: every setting's value, every key (an unknown key is a problem, with the setting it most likely meant), and secret and plugin files. " +
            "Exit codes: 0 and \"FILE: ok\" on stdout; 2 and every problem on stderr, each with its key, its value and what is allowed.")
        {
            file,
        };
        check.Action = new UsageCheckedAction("config check", (parse, ct) =>
        {
            string path = parse.GetValue(file)!;
            IReadOnlyList<string> problems = ConfigCheck.Run(path);
            if (problems.Count > 0)
            {
                UsageCheckedAction.Usage("config check", problems);
                StandardError.WriteLine($"kaze config check: {path}: {problems.Count} problem{(problems.Count == 1 ? "" : "s")}");
                return Task.FromResult(CommandSettings.UsageError);
            }

            StandardOutput.WriteLine($"{path}: ok");
            return Task.FromResult(0);
        });
        return check;
    }

    private static Command CreateSchema()
    {
        var schema = new Command(
            "schema",
            "Print the JSON schema (draft 2020-12) of kaze.json, made from the settings catalog: every setting with its description, default and allowed values, for editors " +
            "(save it and name it in kaze.json with \"$schema\", or in the editor's settings). kaze itself checks more than the schema can say (files, rules between settings). Exit code 0.");
        schema.Action = new UsageCheckedAction("config schema", (parse, ct) =>
        {
            StandardOutput.WriteLine(SettingsSchema.Write());
            return Task.FromResult(0);
        });
        return schema;
    }
}

/// <summary>Checks one configuration file as <c>kaze run --config FILE</c> does at start, without the environment.</summary>
internal static class ConfigCheck
{
    /// <summary>Every problem, as <c>kaze run</c> would print it after "kaze run: "; empty when the file is fine.</summary>
    public static IReadOnlyList<string> Run(string file)
    {
        IConfigurationRoot configuration;
        try
        {
            // The file alone over the defaults: the environment of whoever runs the check is not the file's.
            configuration = SettingsLoader.Build(file, [], new Hashtable());
        }
        catch (InvalidDataException e)
        {
            return [ConfigText.Unreadable(e)];
        }

        KazeSettings.Read(configuration, out List<SettingProblem> problems);
        return [.. problems.Select(p => SettingsLoader.Describe(configuration, file, p))];
    }
}
