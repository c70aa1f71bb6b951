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
/// rolling file. Read from the "log" settings of <see cref="Configuration.SettingsCatalog"/> (<see cref="Configuration.KazeSettings.Log"/>).
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
}
