using System.CommandLine;
using System.CommandLine.Help;
using Kaze.Cli;
using Kaze.Cli.Commands;

var root = new RootCommand("kaze: a sidecar for service meshes. `kaze run -- <command>` runs a program with a shared-memory channel to its sidecar; see docs/cli.md.")
{
    RunCommand.Create(),
    SidecarCommand.Create(),
    SendCommand.Create(),
    StatusCommand.Create(),
    ConfigCommand.Create(),
    CertCommand.Create(),
    CompletionCommand.Create(),
};

// --version on every command, not only the root.
Option version = root.Options.First(o => o is VersionOption);
version.Recursive = true;

ParseResult parse = root.Parse(args);
bool helpOrVersion = parse.Action is HelpAction || parse.GetResult(version) is not null;
if (parse.Errors.Count > 0 && !helpOrVersion && parse.Action is not UsageCheckedAction)
{
    // Usage errors exit 2 (1 is the code of a command that ran and failed, e.g. a non-OK answer).
    string command = parse.CommandResult.Command == root ? "" : " " + parse.CommandResult.Command.Name;
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        StandardError.WriteLine($"kaze{command}: {error.Message}");
    }

    StandardError.WriteLine($"See 'kaze{command} --help'.");
    return CommandSettings.UsageError;
}

// kaze handles SIGINT/SIGTERM itself (they are passed on to the host); System.CommandLine must not.
// Output goes through write(2), not System.Console, which would put a terminal into keypad mode.
// Waited for here rather than with an async Main: one state machine less to compile at start-up.
return parse.InvokeAsync(new InvocationConfiguration
{
    ProcessTerminationTimeout = null,
    Output = StandardOutput.Writer,
    Error = StandardError.Writer,
}).GetAwaiter().GetResult();
