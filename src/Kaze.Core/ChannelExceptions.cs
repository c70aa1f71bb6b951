namespace Kaze.Core;

/// <summary>Base of the exceptions Kaze.Core throws: misuse of the API, or a channel that cannot be created or opened.</summary>
public class ChannelException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChannelException(string message, string? path = null, Exception? inner = null)
        : base(message, inner) => FilePath = path;

    /// <summary>The channel file concerned, when there is one.</summary>
    public string? FilePath { get; }
}

/// <summary>A file is not a channel this code can open: wrong magic, other layout version, wrong sizes.</summary>
public sealed class ChannelFormatException : ChannelException
{
    /// <summary>Creates the exception; the message names the file, the field, and the expected and actual values.</summary>
    public ChannelFormatException(string path, string field, string expected, string actual)
        : base($"{path}: not a usable Kaze channel: {field} is {actual}, expected {expected}", path)
    {
        Field = field;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The header field that did not match.</summary>
    public string Field { get; }

    /// <summary>What the field should have held.</summary>
    public string Expected { get; }

    /// <summary>What the field held.</summary>
    public string Actual { get; }
}

/// <summary>A live process already owns the channel (or the host end of it).</summary>
public sealed class ChannelInUseException : ChannelException
{
    /// <summary>Creates the exception.</summary>
    public ChannelInUseException(string path, string role, int pid)
        : base($"{path}: channel is in use by a live {role} process, pid {pid}", path)
    {
        OwnerPid = pid;
    }

    /// <summary>The pid of the live owner.</summary>
    public int OwnerPid { get; }
}

/// <summary>No channel file exists for the name.</summary>
public sealed class ChannelNotFoundException : ChannelException
{
    /// <summary>Creates the exception.</summary>
    public ChannelNotFoundException(string path)
        : base($"{path}: no such channel (is its sidecar running? start the program under `kaze run`)", path)
    {
    }
}
