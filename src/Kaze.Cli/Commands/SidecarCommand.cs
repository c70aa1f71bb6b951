using System.CommandLine;
using System.Runtime.InteropServices;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Serilog.Events;

namespace Kaze.Cli.Commands;

/// <summary><c>kaze sidecar [options]</c>: a sidecar without a host — a relay node of the mesh — until SIGTERM or SIGINT.</summary>
internal static class SidecarCommand
{
    public static Command Create()
    {
        var flags = new SidecarFlags();
        var sidecar = new Command("sidecar", "Run a sidecar without a host program: a relay node that routes packets between other sidecars until SIGTERM or SIGINT (exit 0). Under systemd (Type=notify) it sends READY=1 once ready. Exit codes: 69 cannot listen, 2 bad options or configuration.");
        foreach (Option option in flags.All)
        {
            sidecar.Options.Add(option);
        }

        sidecar.SetAction(async (parse, ct) =>
        {
            var errors = new List<string>();
            List<KeyValuePair<string, string?>> given = flags.GivenFlags(parse, errors);
            KazeSettings? settings = CommandSettings.Load("sidecar", parse.GetValue(flags.Config), given, errors, out IConfiguration configuration);
            if (settings is null)
            {
                return CommandSettings.UsageError;
            }

            if (JitBuild.DeferIfNeeded("sidecar", settings, configuration, withHost: false) is int deferFailed)
            {
                return deferFailed;
            }

            using ILoggerFactory loggers = KazeLogging.Create(settings.Log);
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using PosixSignalRegistration onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
            using PosixSignalRegistration onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
            (SidecarApp? built, int failure) = await SidecarStartup.StartAsync(settings, configuration, loggers, withHost: false).ConfigureAwait(false);
            if (built is null)
            {
                return failure;
            }

            await using SidecarApp app = built;
            ILogger logger = loggers.CreateLogger("Kaze.Sidecar");
            SidecarLog.Serving(logger, settings.Ident.ToString(), app.Corral?.LocalEndPoint.ToString() ?? "nowhere");
            bool systemd = SystemdNotification.IsRequested;
            using var stopping = new CancellationTokenSource();
            Task notified = systemd
                ? SystemdNotification.NotifyWhenReadyAsync(app.Readiness, settings.Ident.ToString(), logger, stopping.Token)
                : Task.CompletedTask;
            await stop.Task.ConfigureAwait(false);
            await stopping.CancelAsync().ConfigureAwait(false);
            await notified.ConfigureAwait(false);
            if (systemd)
            {
                SystemdNotification.NotifyStopping(logger);
            }

            await app.StopAsync().ConfigureAwait(false);
            return 0;
        });
        return sidecar;
    }
}

internal static partial class SidecarLog
{
    [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Relay sidecar {Ident} listening on {EndPoint}")]
    public static partial void Serving(ILogger logger, string ident, string endPoint);
}
