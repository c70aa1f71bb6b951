using System.Diagnostics;
using Xunit;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// A second real user of this machine, <c>kaze-squatter</c>, for the tests of channel-file
/// ownership: created with useradd when missing, and used through runuser. Needs root.
/// </summary>
internal static class SecondUser
{
    public const string Name = "kaze-squatter";

    private static readonly Lazy<string?> s_skipReason = new(Prepare);

    /// <summary>Null when the user is there to be used; else why not (not root, no useradd).</summary>
    public static string? SkipReason => s_skipReason.Value;

    /// <summary>
    /// Writes, as the second user, a file at <paramref name="path"/> with a valid layout-1 channel
    /// header (64-byte rings) whose sidecar is <paramref name="sidecarPid"/>: the forgery of issue 13.
    /// </summary>
    public static void WriteChannelFile(string path, int sidecarPid)
    {
        const string Script = "import struct,sys\n"
            + "cap=64; size=4096+1024+2*cap; b=bytearray(size)\n"
            + "struct.pack_into('<QIIQIIQQ',b,0,0x4E414843455A414B,1,4096,size,cap,cap,4096,4096+512+cap)\n"
            + "struct.pack_into('<iiQ',b,128,int(sys.argv[2]),1,0)\n"
            + "open(sys.argv[1],'wb').write(b)\n";
        Run("/usr/sbin/runuser", "-u", Name, "--", "/usr/bin/python3", "-c", Script, path, sidecarPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string? Prepare()
    {
        if (Posix.GetEffectiveUserId() != 0)
        {
            return "needs root (to create a second user and run a process as it)";
        }

        if (Run("/usr/bin/id", "-u", Name) == 0)
        {
            return null;
        }

        return Run("/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", Name) == 0
            ? null
            : "useradd could not create " + Name;
    }

    private static int Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(20_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not end within 20 s");
        }

        if (process.ExitCode != 0 && file.EndsWith("runuser", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }

        return process.ExitCode;
    }
}

/// <summary>A test that needs <see cref="SecondUser"/>: skipped, with the reason shown, when not run as root.</summary>
public sealed class SecondUserFactAttribute : FactAttribute
{
    public SecondUserFactAttribute()
    {
        Skip = SecondUser.SkipReason;
    }
}
