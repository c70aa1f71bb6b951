using System.Text.RegularExpressions;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>--version on kaze and on each operator command; --help that explains every option with its default.</summary>
public sealed partial class OperatorCommandHelpTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Version_RootAndEachOperatorCommand_PrintTheSameVersion()
    {
        string[][] commands = [[], ["send"], ["status"], ["config"], ["config", "dump"], ["config", "check"]];
        var versions = new List<string>();
        foreach (string[] command in commands)
        {
            (int code, KazeProcess kaze) = await OperatorCommandRuns.RunAsync(_runs, $"kaze {string.Join(' ', command)} --version", [.. command, "--version"]);
            Assert.True(code == 0, kaze.Describe());
            string line = Assert.Single(kaze.Stdout.Lines);
            Assert.Matches(VersionPattern(), line);
            versions.Add(line);
        }

        Assert.Single(versions.Distinct());
    }

    [Theory]
    [InlineData("send", "--via|--to|--type|--body|--body-file|--timeout|--from|--secret-file|--header", "[default: 5000]|[default: 255.255.255.254]|Exit codes: 0 the answer is OK")]
    [InlineData("status", "--json", "[default: false]|Exit codes: 0")]
    [InlineData("config dump", "--config|--ident|--listen|--node|--grace|--channel|--ring-size", "[default: 0.0.0.1]|[default: 5s]|Exit codes: 0")]
    [InlineData("config check", "<FILE>", "Exit codes: 0")]
    public async Task Help_OperatorCommand_ExplainsEveryOptionAndTheExitCodes(string command, string options, string texts)
    {
        (int code, KazeProcess kaze) = await OperatorCommandRuns.RunAsync(_runs, $"kaze {command} --help", [.. command.Split(' '), "--help"]);

        Assert.True(code == 0, kaze.Describe());
        string help = kaze.Stdout.Text;
        foreach (string option in options.Split('|'))
        {
            // Each option has a line of its own with a description after its name.
            Assert.True(
                kaze.Stdout.Lines.Any(l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal) && l.Trim().Length > option.Length + 20),
                $"no described line for {option} in:\n{help}");
        }

        foreach (string text in texts.Split('|'))
        {
            Assert.Contains(text, help, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+")]
    private static partial Regex VersionPattern();
}
