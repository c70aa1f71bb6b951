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

    /// <summary>
    /// Creates the exception for a channel whose one host has come and gone: a channel serves one
    /// host, and a second one is refused even after the first closed its end or died.
    /// </summary>
    /// <param name="path">The channel file.</param>
    /// <param name="pid">The pid of the host that had it.</param>
    /// <param name="state">The state word of <c>kaze status</c> that says why: <c>closed</c> or <c>host-gone</c>.</param>
    public ChannelInUseException(string path, int pid, string state)
        : base($"{path}: channel already served its host, pid {pid}, which {(state == "closed" ? "closed its end" : "is gone")} (state {state}); a channel serves one host: start the program under its own `kaze run`", path)
    {
        OwnerPid = pid;
    }

    /// <summary>The pid of the live owner (or of the one host the channel served).</summary>
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

/// <summary>
/// A file under the channel's name belongs to another user: kaze never uses or removes it (/dev/shm
/// is shared by every user, and another one may have made it to squat the name).
/// </summary>
public sealed class ChannelOwnedByAnotherUserException : ChannelException
{
    /// <summary>Creates the exception; the message names the file and its owner.</summary>
    public ChannelOwnedByAnotherUserException(string path, uint ownerUid)
        : base($"{path}: belongs to {FileOwner.Describe(ownerUid)}, not to this user ({FileOwner.Describe(FileOwner.CurrentUserId)}); kaze never uses or removes another user's file: choose another channel name", path)
    {
        OwnerUid = ownerUid;
    }

    /// <summary>The user id that owns the file.</summary>
    public uint OwnerUid { get; }
}
