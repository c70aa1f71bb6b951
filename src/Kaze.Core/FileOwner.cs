using System.Globalization;
using Kaze.Core.Native;

namespace Kaze.Core;

/// <summary>
/// Who owns a channel file. /dev/shm is shared by every user of the machine: a file another user
/// made under a channel's name is never opened, trusted, listed or removed as ours.
/// </summary>
public static class FileOwner
{
    /// <summary>This process's effective user id: what owns the files it creates.</summary>
    public static uint CurrentUserId { get; } = LibC.GetEffectiveUserId();

    /// <summary>Whether <paramref name="path"/> itself (not a link's target) belongs to this process's user; false if it cannot be read.</summary>
    public static bool IsOwnedByCurrentUser(string path) => LibC.TryGetOwner(path, out uint uid) && uid == CurrentUserId;

    /// <summary>The owner of <paramref name="path"/>, or null if it cannot be read.</summary>
    public static uint? Of(string path) => LibC.TryGetOwner(path, out uint uid) ? uid : null;

    internal static bool IsOwnedByCurrentUser(Microsoft.Win32.SafeHandles.SafeFileHandle file) =>
        LibC.TryGetOwner(file, out uint uid) && uid == CurrentUserId;

    /// <summary>"user NAME (uid N)", from /etc/passwd when it names the uid.</summary>
    public static string Describe(uint uid)
    {
        string id = uid.ToString(CultureInfo.InvariantCulture);
        try
        {
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 2 && fields[2] == id)
                {
                    return $"user {fields[0]} (uid {id})";
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No names to be had: the number says it.
        }

        return $"uid {id}";
    }
}
