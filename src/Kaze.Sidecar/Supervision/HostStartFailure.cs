namespace Kaze.Sidecar.Supervision;

/// <summary>Why the host program could not be started.</summary>
public enum HostStartError
{
    /// <summary>A name without '/' was not found in PATH. Exit code 127.</summary>
    CommandNotFound,

    /// <summary>A path was given and nothing is there. Exit code 127.</summary>
    NoSuchFile,

    /// <summary>
    /// The file exists but something it needs does not: the interpreter named by its #! line, or
    /// the dynamic loader of a binary (execve said ENOENT). Exit code 127, as bash does.
    /// </summary>
    RequiredFileNotFound,

    /// <summary>The path is a directory. Exit code 126.</summary>
    IsADirectory,

    /// <summary>The file is not executable by this user, or lies on a noexec mount. Exit code 126.</summary>
    PermissionDenied,

    /// <summary>The file is executable but not a format the kernel runs, and not a text script. Exit code 126.</summary>
    ExecFormatError,

    /// <summary>Any other failure to create or execute the process. Exit code 126.</summary>
    CannotExecute,
}

/// <summary>
/// A host program that could not be started, with the exit code and message a shell would give.
/// An expected outcome, so a value and not an exception.
/// </summary>
public sealed record HostStartFailure
{
    /// <summary>The exit code for a command that was not found (POSIX shells use 127).</summary>
    public const int NotFoundExitCode = 127;

    /// <summary>The exit code for a command that was found but could not be run (POSIX shells use 126).</summary>
    public const int CannotExecuteExitCode = 126;

    /// <summary>Creates a failure; <see cref="Message"/> is derived from the error and the command.</summary>
    /// <param name="error">What went wrong.</param>
    /// <param name="command">The command as the user typed it.</param>
    /// <param name="path">The file the error is about, when one was found.</param>
    /// <param name="nativeErrorCode">The errno from execve, when the failure came from it.</param>
    public HostStartFailure(HostStartError error, string command, string? path = null, int nativeErrorCode = 0)
    {
        Error = error;
        Command = command;
        Path = path;
        NativeErrorCode = nativeErrorCode;
    }

    /// <summary>What went wrong.</summary>
    public HostStartError Error { get; }

    /// <summary>The command as the user typed it.</summary>
    public string Command { get; }

    /// <summary>The file the error is about, when one was found (for example the non-executable file found in PATH).</summary>
    public string? Path { get; }

    /// <summary>The errno reported by execve, or 0 when the error was found before trying to run anything.</summary>
    public int NativeErrorCode { get; }

    /// <summary>127 for "not found" errors, 126 for everything else, as POSIX shells do.</summary>
    public int ExitCode => Error is HostStartError.CommandNotFound or HostStartError.NoSuchFile or HostStartError.RequiredFileNotFound
        ? NotFoundExitCode
        : CannotExecuteExitCode;

    /// <summary>One line for stderr, in the form "kaze: &lt;command&gt;: &lt;what went wrong&gt;".</summary>
    public string Message => "kaze: " + Command + ": " + Error switch
    {
        HostStartError.CommandNotFound => "command not found",
        HostStartError.NoSuchFile => "no such file or directory",
        HostStartError.RequiredFileNotFound => "cannot execute: required file not found (missing #! interpreter or dynamic loader)",
        HostStartError.IsADirectory => "is a directory",
        HostStartError.PermissionDenied => "permission denied",
        HostStartError.ExecFormatError => "cannot execute binary file: exec format error",
        _ => "cannot execute: " + DescribeErrno(NativeErrorCode),
    };

    private static string DescribeErrno(int errno)
    {
        if (errno == 0)
        {
            return "unknown error";
        }

        string text = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        return text.Length > 0 ? char.ToLowerInvariant(text[0]) + text[1..] : "errno " + errno;
    }
}
