namespace Kaze.Cli;

/// <summary>kaze's stderr: file descriptor 2 through <see cref="FileDescriptorStream"/> (see there for why not System.Console).</summary>
internal static class StandardError
{
    public static TextWriter Writer { get; } = FileDescriptorStream.CreateWriter(2);

    public static void WriteLine(string line) => Writer.WriteLine(line);
}
