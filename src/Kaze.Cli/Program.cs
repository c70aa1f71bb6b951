using System.CommandLine;
using Kaze.Cli.Commands;

var root = new RootCommand("kaze: a sidecar for service meshes. `kaze run -- <command>` runs a program with a shared-memory channel to its sidecar.")
{
    RunCommand.Create(),
    SidecarCommand.Create(),
    SendCommand.Create(),
    StatusCommand.Create(),
    ConfigCommand.Create(),
};

ParseResult parse = root.Parse(args);
// kaze handles SIGINT/SIGTERM itself (they are passed on to the host); System.CommandLine must not.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
