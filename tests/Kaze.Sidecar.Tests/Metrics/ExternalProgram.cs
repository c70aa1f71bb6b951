using System.Diagnostics;
using System.Text;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>Runs an external tool (promtool) to completion, with its output captured.</summary>
internal static class ExternalProgram
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> arguments, string? standardInput = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        var output = new StringBuilder();
        Task stdout = PumpAsync(process.StandardOutput, output);
        Task stderr = PumpAsync(process.StandardError, output);
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().Within($"{Path.GetFileName(program)} to exit");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await Task.WhenAll(stdout, stderr);
        return (process.ExitCode, output.ToString());
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder output)
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
