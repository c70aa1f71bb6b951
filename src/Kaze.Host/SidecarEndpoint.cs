using System.Globalization;
using Kaze.Core;
using Kaze.Protocol;

namespace Kaze.Host;

/// <summary>
/// Where this host's sidecar is: the channel's name, this node's ident and the sidecar's pid, as
/// <c>kaze run</c> puts them in the host's environment (docs/host-protocol.md).
/// </summary>
/// <param name="ChannelName">The channel's name (<c>KAZE_CHANNEL</c>); its file is /dev/shm/kaze-NAME.</param>
/// <param name="Ident">This node's ident (<c>KAZE_IDENT</c>), which the sidecar stamps on everything the host sends.</param>
/// <param name="SidecarPid">The sidecar's pid (<c>KAZE_SIDECAR_PID</c>); 0 when not known.</param>
public sealed record SidecarEndpoint(string ChannelName, Ident Ident, int SidecarPid)
{
    /// <summary>The variable holding the channel's name.</summary>
    public const string ChannelVariable = "KAZE_CHANNEL";

    /// <summary>The variable holding this node's ident, dotted (e.g. 0.0.0.1).</summary>
    public const string IdentVariable = "KAZE_IDENT";

    /// <summary>The variable holding the sidecar's pid.</summary>
    public const string SidecarPidVariable = "KAZE_SIDECAR_PID";

    private const string Hint = "start this program under `kaze run -- <command>`";

    /// <summary>Reads the three variables from this process's environment.</summary>
    /// <returns>The endpoint.</returns>
    /// <exception cref="KazeEnvironmentException">A variable is missing or invalid; the message names every one.</exception>
    public static SidecarEndpoint FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    // Tests pass their own lookup: the process environment is shared by tests running in parallel.
    internal static SidecarEndpoint FromVariables(Func<string, string?> lookup)
    {
        var problems = new List<string>();
        var variables = new List<string>();

        string? channel = lookup(ChannelVariable);
        if (string.IsNullOrEmpty(channel))
        {
            variables.Add(ChannelVariable);
            problems.Add($"{ChannelVariable} is not set");
        }
        else if (!ShmChannel.IsValidName(channel, out string reason))
        {
            variables.Add(ChannelVariable);
            problems.Add($"{ChannelVariable} is invalid: {reason}");
        }

        string? identText = lookup(IdentVariable);
        Ident ident = default;
        if (string.IsNullOrEmpty(identText))
        {
            variables.Add(IdentVariable);
            problems.Add($"{IdentVariable} is not set");
        }
        else if (!Ident.TryParse(identText, out ident, out string? error))
        {
            variables.Add(IdentVariable);
            problems.Add($"{IdentVariable} is invalid: {error}");
        }

        string? pidText = lookup(SidecarPidVariable);
        int pid = 0;
        if (string.IsNullOrEmpty(pidText))
        {
            variables.Add(SidecarPidVariable);
            problems.Add($"{SidecarPidVariable} is not set");
        }
        else if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out pid) || pid <= 0)
        {
            variables.Add(SidecarPidVariable);
            problems.Add($"{SidecarPidVariable} is invalid: '{Truncate(pidText)}' is not a process id");
        }

        if (problems.Count > 0)
        {
            throw new KazeEnvironmentException(variables, string.Join("; ", problems) + ": " + Hint);
        }

        return new SidecarEndpoint(channel!, ident, pid);
    }

    private static string Truncate(string text) => text.Length <= 32 ? text : string.Concat(text.AsSpan(0, 32), "...");
}
