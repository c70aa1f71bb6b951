using System.CommandLine;
using System.CommandLine.Invocation;

namespace Kaze.Cli.Commands;

/// <summary>
/// The action of kaze's operator commands (send, status, config): reports System.CommandLine's
/// parse errors itself, with exit code 2 (sysexits.h EX_USAGE) like every other bad option,
/// instead of System.CommandLine's exit code 1 — which <c>kaze send</c> gives to a non-OK answer.
/// </summary>
internal sealed class UsageCheckedAction(string command, Func<ParseResult, CancellationToken, Task<int>> run) : AsynchronousCommandLineAction
{
    // Makes System.CommandLine hand the parse errors to this action instead of printing them.
    public override bool ClearsParseErrors => true;

    public override Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
    {
        // Clearing the errors also drops the one about unmatched tokens (it belongs to the root
        // command): those are reported here.
        if (parseResult.Errors.Count == 0 && parseResult.UnmatchedTokens.Count == 0)
        {
            return run(parseResult, cancellationToken);
        }

        foreach (string token in parseResult.UnmatchedTokens)
        {
            StandardError.WriteLine($"kaze {command}: unknown option or argument '{token}'");
        }

        foreach (System.CommandLine.Parsing.ParseError error in parseResult.Errors)
        {
            StandardError.WriteLine($"kaze {command}: {error.Message}");
        }

        StandardError.WriteLine($"See 'kaze {command} --help'.");
        return Task.FromResult(CommandSettings.UsageError);
    }

    /// <summary>Reports <paramref name="problems"/> (every one, each on its line) and returns exit code 2.</summary>
    public static int Usage(string command, IEnumerable<string> problems)
    {
        foreach (string problem in problems)
        {
            StandardError.WriteLine($"kaze {command}: {problem}");
        }

        return CommandSettings.UsageError;
    }
}
