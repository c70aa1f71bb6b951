namespace Kaze.Host;

/// <summary>Base of the exceptions Kaze.Host throws for a host that cannot connect to its sidecar.</summary>
/// <remarks>
/// Outcomes of traffic are values, not exceptions: a call that times out or cannot be delivered
/// completes with a <see cref="Kaze.Protocol.RetCode"/> (see <see cref="KazeResponse"/>). Errors of the
/// channel file itself come from Kaze.Core as <see cref="Kaze.Core.ChannelException"/>.
/// </remarks>
public class KazeHostException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and what to do about it.</param>
    /// <param name="inner">The cause, if any.</param>
    public KazeHostException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The channel's sidecar is not running: the file was left by a sidecar that was killed (it is
/// stale), or its pid belongs to another process now. The message says so and names the pid.
/// </summary>
public sealed class KazeSidecarGoneException : KazeHostException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The channel file.</param>
    /// <param name="sidecarPid">The sidecar's pid as the file records it.</param>
    public KazeSidecarGoneException(string path, int sidecarPid)
        : base($"{path}: the sidecar (pid {sidecarPid}) is not running: the channel is stale; start the program under `kaze run`")
    {
        FilePath = path;
        SidecarPid = sidecarPid;
    }

    /// <summary>The channel file.</summary>
    public string FilePath { get; }

    /// <summary>The sidecar's pid as the file records it.</summary>
    public int SidecarPid { get; }
}

/// <summary>
/// The environment that <c>kaze run</c> sets is missing or invalid: the program was not started by
/// its sidecar. The message names every variable that is wrong.
/// </summary>
public sealed class KazeEnvironmentException : KazeHostException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="variables">The variables that are missing or invalid, e.g. KAZE_CHANNEL.</param>
    /// <param name="message">One sentence per variable, and the hint to start the program under <c>kaze run</c>.</param>
    public KazeEnvironmentException(IReadOnlyList<string> variables, string message)
        : base(message)
    {
        Variables = variables;
    }

    /// <summary>The variables that are missing or invalid.</summary>
    public IReadOnlyList<string> Variables { get; }
}
