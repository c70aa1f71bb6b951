using System.Globalization;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Logging;

/// <summary>How kaze writes its log lines (on stderr, and in the file if there is one).</summary>
public enum LogFormat
{
    /// <summary>Readable lines: time, level, area, message, exception.</summary>
    Text = 0,

    /// <summary>One JSON object per line (CLEF: <c>@t</c>, <c>@l</c>, <c>@m</c>, <c>@x</c>, then the properties).</summary>
    Json = 1,
}

/// <summary>When the log file rolls over to a new one (the names get the period's date appended).</summary>
public enum LogRollingInterval
{
    /// <summary>Never: one file, rolled only by its size limit.</summary>
    Infinite = 0,

    /// <summary>Every year.</summary>
    Year,

    /// <summary>Every month.</summary>
    Month,

    /// <summary>Every day.</summary>
    Day,

    /// <summary>Every hour.</summary>
    Hour,

    /// <summary>Every minute.</summary>
    Minute,
}

/// <summary>
/// kaze's logging: the level, levels per area (category prefix), the format, and the optional
/// rolling file. Bound from the "log" section; see SettingsCatalog for every key and default.
/// </summary>
/// <remarks>
/// Defaults: level warn, no overrides, text, no file; with a file: rolled daily and at 100 MiB,
/// 7 files kept. An area's level is the one of the longest prefix of its category in
/// <see cref="Levels"/> (compared without case, as the environment variables are upper-cased),
/// else <see cref="Level"/>. The host's records (log forwarding) are in the categories
/// "Host" and "Host.&lt;the host's category&gt;".
/// </remarks>
public sealed record LogSettings
{
    /// <summary>The level names a setting accepts, as errors list them.</summary>
    public const string LevelChoices = "trace, debug, info, warn, error, critical, off";

    /// <summary>The level of every area without an override.</summary>
    public LogLevel Level { get; init; } = LogLevel.Warning;

    /// <summary>Levels per area: category prefix → level, in configuration order.</summary>
    public IReadOnlyList<KeyValuePair<string, LogLevel>> Levels { get; init; } = [];

    /// <summary>Text or JSON lines, on stderr and in the file alike.</summary>
    public LogFormat Format { get; init; } = LogFormat.Text;

    /// <summary>The log file's path (relative to the working directory), or null for stderr only.</summary>
    public string? File { get; init; }

    /// <summary>When the file rolls over.</summary>
    public LogRollingInterval RollingInterval { get; init; } = LogRollingInterval.Day;

    /// <summary>Bytes in one file before it rolls over to the next.</summary>
    public long FileSizeLimit { get; init; } = 100L << 20;

    /// <summary>Files kept, the current one included; older ones are deleted.</summary>
    public int RetainedFiles { get; init; } = 7;

    /// <summary>
    /// Reads the "log" section of <paramref name="configuration"/> (the whole configuration, not the
    /// section). Adds one line to <paramref name="problems"/> per bad value, naming its key.
    /// </summary>
    /// <param name="configuration">The effective configuration, defaults included.</param>
    /// <param name="problems">Where problems are listed.</param>
    /// <returns>The settings; meaningful only when no problem was added.</returns>
    public static LogSettings Bind(IConfiguration configuration, List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(problems);
        var defaults = new LogSettings();

        LogLevel level = defaults.Level;
        string? levelText = configuration["log:level"];
        if (levelText is not null && !TryParseLevel(levelText, out level))
        {
            problems.Add($"log:level: '{levelText}' is not one of {LevelChoices}");
        }

        var levels = new List<KeyValuePair<string, LogLevel>>();
        foreach (IConfigurationSection area in configuration.GetSection("log:levels").GetChildren())
        {
            if (area.Value is null || !TryParseLevel(area.Value, out LogLevel areaLevel))
            {
                problems.Add($"log:levels:{area.Key}: '{area.Value ?? "(a section)"}' is not one of {LevelChoices}");
                continue;
            }

            levels.Add(new(area.Key, areaLevel));
        }

        LogFormat format = defaults.Format;
        string? formatText = configuration["log:format"];
        if (formatText is not null && !TryParseFormat(formatText, out format))
        {
            problems.Add($"log:format: '{formatText}' is not one of text, json");
        }

        string? file = configuration["log:file"];
        if (file is { Length: > 0 } && (file.EndsWith('/') || Directory.Exists(file)))
        {
            problems.Add($"log:file: '{file}' is a directory; name a file in it, e.g. {Path.Join(file, "kaze.log")}");
        }

        LogRollingInterval rolling = defaults.RollingInterval;
        string? rollingText = configuration["log:rollingInterval"];
        if (rollingText is not null && !TryParseRollingInterval(rollingText, out rolling))
        {
            problems.Add($"log:rollingInterval: '{rollingText}' is not one of infinite, year, month, day, hour, minute");
        }

        long sizeLimit = defaults.FileSizeLimit;
        string? sizeText = configuration["log:fileSizeLimit"];
        if (sizeText is not null)
        {
            if (!SettingValues.TryParseSize(sizeText, out sizeLimit, out string sizeError))
            {
                problems.Add($"log:fileSizeLimit: {sizeError}");
            }
            else if (sizeLimit < 1024)
            {
                problems.Add($"log:fileSizeLimit: {sizeText} must be at least 1KiB");
            }
        }

        int retained = defaults.RetainedFiles;
        string? retainedText = configuration["log:retainedFiles"];
        if (retainedText is not null && (!int.TryParse(retainedText, NumberStyles.None, CultureInfo.InvariantCulture, out retained) || retained < 1))
        {
            problems.Add($"log:retainedFiles: '{retainedText}' is not a whole number of at least 1");
        }

        return new LogSettings
        {
            Level = level,
            Levels = levels,
            Format = format,
            File = string.IsNullOrEmpty(file) ? null : file,
            RollingInterval = rolling,
            FileSizeLimit = sizeLimit,
            RetainedFiles = retained,
        };
    }

    /// <summary>Parses a level name: trace, debug, info, warn, error, critical, off (and information, warning, fatal, none, verbose).</summary>
    /// <param name="text">The name, in any case.</param>
    /// <param name="level">The level.</param>
    /// <returns>Whether <paramref name="text"/> names a level.</returns>
    public static bool TryParseLevel(string? text, out LogLevel level)
    {
        level = text?.Trim().ToLowerInvariant() switch
        {
            "trace" or "verbose" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" or "information" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" or "fatal" => LogLevel.Critical,
            "off" or "none" => LogLevel.None,
            _ => (LogLevel)(-1),
        };
        return level >= LogLevel.Trace;
    }

    /// <summary>The level of <paramref name="category"/>: its longest matching prefix in <see cref="Levels"/>, else <see cref="Level"/>.</summary>
    /// <param name="category">A logger's category, e.g. "Kaze.Sidecar.Corral".</param>
    /// <returns>The least severe level written for it (<see cref="LogLevel.None"/>: nothing).</returns>
    public LogLevel LevelOf(string category)
    {
        ArgumentNullException.ThrowIfNull(category);
        LogLevel level = Level;
        int longest = -1;
        foreach (KeyValuePair<string, LogLevel> area in Levels)
        {
            string prefix = area.Key;
            bool matches = category.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                && (category.Length == prefix.Length || category[prefix.Length] == '.');
            if (matches && prefix.Length > longest)
            {
                longest = prefix.Length;
                level = area.Value;
            }
        }

        return level;
    }

    // By name only, in any case (Enum.TryParse would also take "7" or "text,json"). Spelled out
    // rather than Enum.TryParse<T>: its code for kaze's enums would be compiled at every start.
    private static bool TryParseFormat(string text, out LogFormat format)
    {
        (bool known, format) = text.Trim().ToLowerInvariant() switch
        {
            "text" => (true, LogFormat.Text),
            "json" => (true, LogFormat.Json),
            _ => (false, LogFormat.Text),
        };
        return known;
    }

    private static bool TryParseRollingInterval(string text, out LogRollingInterval interval)
    {
        (bool known, interval) = text.Trim().ToLowerInvariant() switch
        {
            "infinite" => (true, LogRollingInterval.Infinite),
            "year" => (true, LogRollingInterval.Year),
            "month" => (true, LogRollingInterval.Month),
            "day" => (true, LogRollingInterval.Day),
            "hour" => (true, LogRollingInterval.Hour),
            "minute" => (true, LogRollingInterval.Minute),
            _ => (false, LogRollingInterval.Infinite),
        };
        return known;
    }
}
