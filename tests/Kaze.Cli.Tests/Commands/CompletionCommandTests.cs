using System.Diagnostics;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// `kaze completion bash|zsh|fish`: each script, loaded into the real shell, completes kaze's
/// commands and options by asking kaze (a `kaze` on PATH that runs the kaze under test).
/// .ci/run installs zsh and fish.
/// </summary>
public sealed class CompletionCommandTests : IDisposable
{
    private readonly KazeRuns _runs = new();
    private readonly string _bin;

    public CompletionCommandTests()
    {
        _bin = Path.Combine(_runs.Directory, "bin");
        Directory.CreateDirectory(_bin);
        string kaze = Path.Combine(_bin, "kaze");
        File.WriteAllText(kaze, $"#!/bin/sh\nexec '{TestPrograms.Dotnet}' '{TestPrograms.Kaze}' \"$@\"\n");
        File.SetUnixFileMode(kaze, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Bash_PartialCommandAndOption_CompletesThem()
    {
        string command = await ShellAsync("bash", "-c", """
            source <(kaze completion bash)
            complete -p kaze
            COMP_LINE='kaze ru'; COMP_POINT=7; COMP_WORDS=(kaze ru); COMP_CWORD=1; _kaze_complete
            echo "command: ${COMPREPLY[*]}"
            COMP_LINE='kaze run --gr'; COMP_POINT=13; COMP_WORDS=(kaze run --gr); COMP_CWORD=2; _kaze_complete
            echo "option: ${COMPREPLY[*]}"
            """);

        Assert.Contains("complete -o bashdefault -o default -F _kaze_complete kaze", command);
        Assert.Contains("command: run\n", command);
        Assert.Contains("option: --grace\n", command);
    }

    [Fact]
    public async Task Fish_PartialCommandAndOption_CompletesThem()
    {
        string output = await ShellAsync("fish", "-c", """
            kaze completion fish | source
            complete -C 'kaze ru'
            complete -C 'kaze status --js'
            """);

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("run", lines);
        Assert.Contains("--json", lines);
    }

    [Fact]
    public async Task Zsh_PartialCommand_OffersItToCompadd()
    {
        // Outside an interactive shell there is no completion widget: compadd and compdef are
        // stood in for, and BUFFER/CURSOR/words set as zsh sets them when completing "kaze sta".
        string output = await ShellAsync("zsh", "-c", """
            compdef() { print "compdef $*" }
            compadd() { shift; print -l -- "$@" }
            _files() { print FILES }
            source <(kaze completion zsh)
            words=(kaze sta); BUFFER='kaze sta'; CURSOR=8; _kaze
            """);

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("compdef _kaze kaze", lines);
        Assert.Contains("status", lines);
        Assert.DoesNotContain("FILES", lines);
    }

    [Fact]
    public async Task Completion_UnknownShell_ExitsTwoNamingTheChoices()
    {
        (int code, KazeProcess kaze) = await OperatorCommandRuns.RunAsync(_runs, "kaze completion tcsh", "completion", "tcsh");

        Assert.True(code == 2, kaze.Describe());
        Assert.Contains(kaze.Stderr.Lines, l => l.Contains("'tcsh'", StringComparison.Ordinal));
        Assert.Empty(kaze.Stdout.Lines);
    }

    private async Task<string> ShellAsync(string shell, params string[] arguments)
    {
        var info = new ProcessStartInfo(shell)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _runs.Directory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["PATH"] = _bin + ":" + Environment.GetEnvironmentVariable("PATH");
        info.Environment["HOME"] = _runs.Directory;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{shell} did not start (is it installed? .ci/run installs bash, zsh and fish)");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within($"{shell} running kaze's completion script", Deadline.Long);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        string output = await stdout;
        Assert.True(process.ExitCode == 0, $"{shell} exited {process.ExitCode}\nstdout:\n{output}\nstderr:\n{await stderr}");
        return output;
    }
}
