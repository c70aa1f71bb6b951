namespace Kaze.Cli.Commands;

/// <summary>
/// stdout for the commands that print a result (send, status, config): file descriptor 1 through
/// <see cref="FileDescriptorStream"/>, for the reasons given there.
/// </summary>
internal static class StandardOutput
{
    public static TextWriter Writer { get; } = FileDescriptorStream.CreateWriter(1);

    public static void WriteLine(string line) => Writer.WriteLine(line);
}
