using Kaze.Sidecar.Supervision;
using Microsoft.Extensions.Logging;

// Usage: Kaze.TestChild supervise -- <command> [args...]
// Runs the command under HostProcess with signal forwarding, as `kaze run` does, logs every
// supervisor event to stderr as "kaze-event <id> <message>", and exits with the child's code.
if (args.Length < 3 || args[0] != "supervise" || args[1] != "--")
{
    Console.Error.WriteLine("usage: Kaze.TestChild supervise -- <command> [args...]");
    return 2;
}

// First line on stderr: the pid to signal (the test may have started us through setsid or script).
Console.Error.Write($"kaze-supervisor-pid {Environment.ProcessId}\n");

var options = new HostProcessOptions { Command = args[2], Arguments = args[3..] };
HostStartResult started = HostProcess.Start(options, new StderrLogger());
if (!started.IsStarted)
{
    Console.Error.WriteLine(started.Failure.Message);
    return started.Failure.ExitCode;
}

using HostProcess host = started.Process;
return await host.Exited;

internal sealed class StderrLogger : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        // One write per line: the child writes to the same stream.
        Console.Error.Write($"kaze-event {eventId.Id} {formatter(state, exception)}\n");
    }
}
