using Kaze.Sidecar.Supervision.Native;

namespace Kaze.Sidecar.Supervision;

/// <summary>The executable a command names, or the shell-style error for it.</summary>
/// <param name="Path">The absolute path to execute, when found.</param>
/// <param name="Error">The error, when <paramref name="Path"/> is null.</param>
/// <param name="ErrorPath">The file the error is about, if any (a non-executable file found in PATH).</param>
internal readonly record struct CommandResolution(string? Path, HostStartError Error, string? ErrorPath = null);

/// <summary>
/// Finds the executable for a command the way execvp(3) and POSIX shells do, before anything is
/// started.
/// </summary>
/// <remarks>
/// Doing it here rather than leaving it to <see cref="System.Diagnostics.Process.Start()"/>
/// matters: .NET looks in the directory of the running executable and in the current directory
/// before PATH (the Windows order), so <c>kaze run -- sh</c> would run a file named sh in the
/// current directory. It also reports a directory and a missing file with the same exception.
/// The result is an absolute path, which is also what the child sees as argv[0].
/// </remarks>
internal static class CommandResolver
{
    /// <summary>What glibc's execvp searches when PATH is not set at all.</summary>
    public const string DefaultSearchPath = "/bin:/usr/bin";

    /// <summary>Resolves <paramref name="command"/>.</summary>
    /// <param name="command">As typed: a name is searched in PATH, anything with '/' is a path.</param>
    /// <param name="searchPath">The PATH the child will see, or null when it has none.</param>
    /// <param name="workingDirectory">The child's working directory: relative paths and empty PATH entries mean it.</param>
    public static CommandResolution Resolve(string command, string? searchPath, string workingDirectory)
    {
        if (command.Contains('/', StringComparison.Ordinal))
        {
            string path = System.IO.Path.GetFullPath(command, workingDirectory);
            return Probe(path) switch
            {
                FileKind.Executable => new CommandResolution(path, default),
                FileKind.Missing => new CommandResolution(null, HostStartError.NoSuchFile),
                FileKind.Directory => new CommandResolution(null, HostStartError.IsADirectory, path),
                _ => new CommandResolution(null, HostStartError.PermissionDenied, path),
            };
        }

        // execvp: the first executable file wins; directories are skipped; if only
        // non-executable files were found, the error is EACCES for the first of them.
        string? firstDenied = null;
        foreach (string entry in (searchPath ?? DefaultSearchPath).Split(':'))
        {
            // An empty entry (leading, trailing or doubled ':') means the working directory.
            string directory = System.IO.Path.GetFullPath(entry.Length == 0 ? "." : entry, workingDirectory);
            string candidate = System.IO.Path.Join(directory, command);
            switch (Probe(candidate))
            {
                case FileKind.Executable:
                    return new CommandResolution(candidate, default);
                case FileKind.NotExecutable:
                    firstDenied ??= candidate;
                    break;
            }
        }

        return firstDenied is null
            ? new CommandResolution(null, HostStartError.CommandNotFound)
            : new CommandResolution(null, HostStartError.PermissionDenied, firstDenied);
    }

    private static FileKind Probe(string path)
    {
        if (Directory.Exists(path))
        {
            return FileKind.Directory;
        }

        if (!File.Exists(path))
        {
            return FileKind.Missing;
        }

        // access(2) rather than the mode bits: it also answers for owner/group/ACLs, root's
        // rule (any x bit will do) and noexec mounts.
        return LibC.Access(path, LibC.X_OK) == 0 ? FileKind.Executable : FileKind.NotExecutable;
    }

    private enum FileKind
    {
        Missing,
        Directory,
        NotExecutable,
        Executable,
    }
}
