namespace Kaze.Sidecar.Supervision;

/// <summary>What to run as the host program, and how.</summary>
/// <remarks>
/// Defaults: no arguments, no extra environment, the current working directory, and the
/// signals SIGINT, SIGTERM, SIGHUP and SIGQUIT forwarded to the child.
/// </remarks>
public sealed class HostProcessOptions
{
    /// <summary>
    /// The command as the user typed it. A name without '/' is looked up in PATH (the PATH the
    /// child will see); a name with '/' is a path, relative to <see cref="WorkingDirectory"/>.
    /// </summary>
    public required string Command { get; init; }

    /// <summary>The arguments after the command, passed through untouched. Default: none.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>
    /// Variables added to the inherited environment (for example KAZE_CHANNEL); a null value
    /// removes an inherited variable. Default: none.
    /// </summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>The child's working directory. Default: null, the current one.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Whether SIGINT, SIGTERM, SIGHUP and SIGQUIT received by this process are passed on to the
    /// child (and kept from stopping this process). Default: true.
    /// </summary>
    public bool ForwardSignals { get; init; } = true;

    /// <summary>Every problem with these options at once; empty when they are valid.</summary>
    internal List<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrEmpty(Command))
        {
            problems.Add("Command is empty.");
        }
        else if (Command.Contains('\0', StringComparison.Ordinal))
        {
            problems.Add("Command contains a NUL character.");
        }

        for (int i = 0; i < Arguments.Count; i++)
        {
            if (Arguments[i] is null)
            {
                problems.Add($"Arguments[{i}] is null.");
            }
            else if (Arguments[i].Contains('\0', StringComparison.Ordinal))
            {
                problems.Add($"Arguments[{i}] contains a NUL character.");
            }
        }

        foreach (KeyValuePair<string, string?> variable in Environment)
        {
            if (variable.Key.Length == 0 || variable.Key.Contains('=', StringComparison.Ordinal) || variable.Key.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add($"Environment variable name '{variable.Key}' is empty or contains '=' or NUL.");
            }

            if (variable.Value is not null && variable.Value.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add($"Environment variable '{variable.Key}' has a value with a NUL character.");
            }
        }

        if (WorkingDirectory is not null && !Directory.Exists(WorkingDirectory))
        {
            problems.Add($"WorkingDirectory '{WorkingDirectory}' does not exist.");
        }

        return problems;
    }
}
