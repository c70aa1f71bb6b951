using System.CommandLine;
using System.Runtime.InteropServices;
using Kaze.Core;
using Kaze.Sidecar;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Supervision;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Serilog.Events;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze run [options] -- &lt;command&gt; [args…]</c>: create the channel, start the host program
/// with the channel in its environment once the sidecar serves it, pass signals on, and exit
/// with the host's exit code, removing the channel file on every path.
/// </summary>
internal static class RunCommand
{
    /// <summary>sysexits.h EX_CANTCREAT: the channel file could not be created.</summary>
    public const int CannotCreateChannel = 73;

    /// <summary>sysexits.h EX_UNAVAILABLE: the listen address cannot be bound.</summary>
    public const int CannotListen = 69;

    /// <summary>sysexits.h EX_PROTOCOL: the host wrote impossible positions or lengths into the channel, which kaze closed.</summary>
    public const int ChannelCorrupt = 76;

    public static Command Create()
    {
        var flags = new SidecarFlags();
        Option<string> grace = SidecarFlags.Setting("--grace", "run:grace", "DURATION");
        Option<string> channel = SidecarFlags.Setting("--channel", "channel:name", "NAME");
        Option<string> ringSize = SidecarFlags.Setting("--ring-size", "channel:ringSize", "SIZE");
        Option<string> appPort = SidecarFlags.Setting("--app-port", "http:appPort", "PORT");
        Option<string> httpPort = SidecarFlags.Setting("--http-port", "http:port", "PORT");
        var command = new Argument<string[]>("command")
        {
            Description = "The host program and its arguments, after --. Everything from the command's first word on belongs to the host.",
            Arity = ArgumentArity.OneOrMore,
            // Without this, `kaze run app --grace 1s` would take --grace for kaze.
            CaptureRemainingTokens = true,
        };

        var run = new Command("run", "Run a host program with a sidecar: the program gets KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID in its environment, keeps the terminal, and kaze exits with its exit code (128+N if signal N ended it; 127 command not found; 126 not executable; 73 channel cannot be created; 69 the --listen address given or the --http-port cannot be bound; 2 bad options, configuration or plugin; 70 cannot start for another reason; 76 the host corrupted the channel).");
        foreach (Option option in flags.All)
        {
            run.Options.Add(option);
        }

        run.Options.Add(grace);
        run.Options.Add(channel);
        run.Options.Add(ringSize);
        run.Options.Add(appPort);
        run.Options.Add(httpPort);
        run.Arguments.Add(command);
        // Not an async lambda: RunAsync is the one state machine `kaze run` needs (each costs start-up time).
        run.SetAction((parse, ct) =>
        {
            var errors = new List<string>();
            List<KeyValuePair<string, string?>> given = flags.GivenFlags(parse, errors);
            SidecarFlags.Add(parse, grace, "run:grace", given);
            SidecarFlags.Add(parse, channel, "channel:name", given);
            SidecarFlags.Add(parse, ringSize, "channel:ringSize", given);
            SidecarFlags.Add(parse, appPort, "http:appPort", given);
            SidecarFlags.Add(parse, httpPort, "http:port", given);
            KazeSettings? settings = CommandSettings.Load("run", parse.GetValue(flags.Config), given, errors, out IConfiguration configuration);
            if (settings is null)
            {
                return Task.FromResult(CommandSettings.UsageError);
            }

            string[] argv = parse.GetValue(command)!;
            if (argv[0].StartsWith('-') && !FollowsDoubleDash(parse, argv[0]))
            {
                // A mistyped kaze option would otherwise be run as the host command.
                StandardError.WriteLine($"kaze run: unknown option '{argv[0]}' (put the host command after --)");
                return Task.FromResult(CommandSettings.UsageError);
            }

            if (JitBuild.DeferIfNeeded("run", settings, configuration, withHost: true) is int deferFailed)
            {
                return Task.FromResult(deferFailed);
            }

            return RunAsync(settings, configuration, argv[0], argv[1..]);
        });
        return run;
    }

    private static bool FollowsDoubleDash(ParseResult parse, string firstWord)
    {
        IReadOnlyList<System.CommandLine.Parsing.Token> tokens = parse.Tokens;
        for (int i = 0; i < tokens.Count - 1; i++)
        {
            if (tokens[i].Type == System.CommandLine.Parsing.TokenType.DoubleDash)
            {
                return tokens[i + 1].Value == firstWord;
            }
        }

        return false;
    }

    internal static async Task<int> RunAsync(KazeSettings settings, IConfiguration configuration, string command, string[] arguments)
    {
        using ILoggerFactory loggers = KazeLogging.Create(settings.Log);
        ILogger logger = loggers.CreateLogger("Kaze.Run");
        foreach (string stale in ChannelInfo.RemoveStale())
        {
            RunLog.RemovedStale(logger, stale);
        }

        (SidecarApp? built, int failure) = await SidecarStartup.StartAsync(settings, configuration, loggers, withHost: true).ConfigureAwait(false);
        if (built is null)
        {
            return failure;
        }

        await using SidecarApp app = built;
        SidecarNode node = app.Node;

        // Stop requests to kaze itself: the signal also reaches the host (the forwarder), and
        // kaze asks the host to exit and SIGKILLs it when the grace period is over.
        var stopRequested = new TaskCompletionSource<PosixSignal>(TaskCreationOptions.RunContinuationsAsynchronously);
        using PosixSignalRegistration onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopRequested.TrySetResult(c.Signal); });
        using PosixSignalRegistration onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopRequested.TrySetResult(c.Signal); });
        using PosixSignalRegistration onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; stopRequested.TrySetResult(c.Signal); });

        var environment = new Dictionary<string, string?>
        {
            ["KAZE_CHANNEL"] = node.Edge.ChannelName,
            ["KAZE_IDENT"] = settings.Ident.ToString(),
            ["KAZE_SIDECAR_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (app.HttpPort is int httpPort)
        {
            environment["KAZE_HTTP_PORT"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        HostStartResult started = HostProcess.Start(
            new HostProcessOptions { Command = command, Arguments = arguments, Environment = environment, ForwardSignals = true },
            loggers.CreateLogger("Kaze.Supervision"));
        if (!started.IsStarted)
        {
            StandardError.WriteLine(started.Failure!.Message);
            await app.StopAsync().ConfigureAwait(false);
            return started.Failure.ExitCode;
        }

        app.Readiness.ReportHostStarted(started.Process!.Pid);
        int code;
        Task<ChannelStatus> hostEnded = node.HostEnded;
        using (HostProcess host = started.Process!)
        {
            Task first = await Task.WhenAny(host.Exited, stopRequested.Task, hostEnded).ConfigureAwait(false);
            if (first == hostEnded && !host.HasExited)
            {
                // The host's end of the channel is over (it closed it, its process is gone, or it
                // corrupted the ring and kaze closed it): kaze ends too (docs/host-protocol.md 5).
                // The program has the grace period to exit by itself, then it is killed.
                RunLog.HostEndClosed(logger, hostEnded.Result.ToString(), settings.Grace.TotalMilliseconds);
                first = await Task.WhenAny(host.Exited, stopRequested.Task, Task.Delay(settings.Grace)).ConfigureAwait(false);
                code = first == host.Exited
                    ? await host.Exited.ConfigureAwait(false)
                    : await host.StopAsync(TimeSpan.Zero, null).ConfigureAwait(false);
            }
            else if (first != stopRequested.Task)
            {
                code = await host.Exited.ConfigureAwait(false);
            }
            else
            {
                RunLog.Stopping(logger, stopRequested.Task.Result.ToString(), settings.Grace.TotalMilliseconds);
                code = await host.StopAsync(settings.Grace, _ =>
                {
                    node.RequestHostExit();
                    return Task.CompletedTask;
                }).ConfigureAwait(false);
            }
        }

        node.ReportHostExit(code);
        await app.StopAsync().ConfigureAwait(false);
        if (hostEnded.IsCompletedSuccessfully && hostEnded.Result == ChannelStatus.Corrupt)
        {
            // The corruption was logged when it was found (one line naming the field); the host's own code follows it.
            RunLog.ExitingCorrupt(logger, code, ChannelCorrupt);
            return ChannelCorrupt;
        }

        return code;
    }
}

internal static partial class RunLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Removed a stale channel file {Path}")]
    public static partial void RemovedStale(ILogger logger, string path);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "{Signal} received: asking the host to exit, SIGKILL in {GraceMs} ms")]
    public static partial void Stopping(ILogger logger, string signal, double graceMs);

    [LoggerMessage(EventId = 303, Level = LogLevel.Debug, Message = "The host's end of the channel ended ({Status}) while its process runs: SIGKILL unless it exits within {GraceMs} ms")]
    public static partial void HostEndClosed(ILogger logger, string status, double graceMs);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "The host corrupted the channel (exit code {HostCode}): kaze exits {Code}")]
    public static partial void ExitingCorrupt(ILogger logger, int hostCode, int code);
}
