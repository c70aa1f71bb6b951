using System.Diagnostics;

namespace Kaze.Cli.Tests.Http;

/// <summary>curl as a separate process, the way an unmodified client calls the mesh.</summary>
internal static class Curl
{
    /// <summary>Runs <c>curl --silent --show-error ARGS</c>; its exit code and output, within <paramref name="timeout"/> (it is killed after).</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(IReadOnlyList<string> arguments, string what, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("curl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--silent");
        info.ArgumentList.Add("--show-error");
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within("curl " + what, timeout);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
