using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>Loads and validates the settings for a command; prints every problem and gives exit code 2.</summary>
internal static class CommandSettings
{
    /// <summary>sysexits.h EX_USAGE: the command line or configuration was wrong.</summary>
    public const int UsageError = 2;

    public static KazeSettings? Load(string command, string? configFile, List<KeyValuePair<string, string?>> flags, List<string> errors, out IConfiguration configuration)
    {
        KazeSettings? settings = null;
        IConfiguration? built = null;
        if (errors.Count == 0)
        {
            try
            {
                string? file = SettingsLoader.FindFile(configFile);
                IConfigurationRoot root = SettingsLoader.Build(file, flags);
                built = root;
                settings = KazeSettings.Read(root, out List<SettingProblem> problems);
                errors.AddRange(problems.Select(p => SettingsLoader.Describe(root, file, p)));
            }
            catch (InvalidDataException e)
            {
                errors.Add(ConfigText.Unreadable(e));
            }
        }

        foreach (string error in errors)
        {
            StandardError.WriteLine($"kaze {command}: {error}");
        }

        configuration = built ?? new ConfigurationBuilder().Build();
        return errors.Count == 0 ? settings : null;
    }
}
