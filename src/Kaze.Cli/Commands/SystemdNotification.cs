using System.Net.Sockets;
using Kaze.Sidecar.Health;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze sidecar</c> under systemd (<c>Type=notify</c>, docs/systemd.md): READY=1 once the
/// sidecar is ready (<see cref="SidecarReadiness"/>, the same checks as <c>/readyz</c>), STOPPING=1
/// when it begins to stop. Through Microsoft.Extensions.Hosting.Systemd's
/// <see cref="SystemdNotifier"/>, which sends to <c>$NOTIFY_SOCKET</c> (abstract names included).
/// </summary>
/// <remarks>
/// The package's <c>SystemdLifetime</c> is not used: it would stop the Generic Host on SIGTERM by
/// itself, and kaze handles its signals itself (the sidecar's lifetime is the command's). Its own
/// class, and called only when <c>NOTIFY_SOCKET</c> is set, so that the package's assembly is not
/// even loaded otherwise.
/// </remarks>
internal static class SystemdNotification
{
    /// <summary>The variable systemd sets for a <c>Type=notify</c> service.</summary>
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>Between two readiness checks while waiting to send READY=1.</summary>
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>True when systemd (or anything acting as it) asked to be notified.</summary>
    public static bool IsRequested => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(SocketVariable));

    /// <summary>Waits until the sidecar is ready, then sends READY=1 with a STATUS line; ends quietly when <paramref name="stopping"/> is cancelled first.</summary>
    public static async Task NotifyWhenReadyAsync(SidecarReadiness readiness, string ident, ILogger logger, CancellationToken stopping)
    {
        ReadinessReport report;
        try
        {
            report = await readiness.WaitUntilReadyAsync(CheckInterval, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        string mesh = report.Checks.FirstOrDefault(c => c.Key == "mesh").Value.Detail ?? "";
        Send(new ServiceState($"READY=1\nSTATUS=kaze sidecar {ident} ready: {mesh}"), "READY=1", logger);
    }

    /// <summary>Sends STOPPING=1.</summary>
    public static void NotifyStopping(ILogger logger) => Send(ServiceState.Stopping, "STOPPING=1", logger);

    private static void Send(ServiceState state, string what, ILogger logger)
    {
        try
        {
            new SystemdNotifier().Notify(state);
            SystemdLog.Notified(logger, what);
        }
        catch (SocketException e)
        {
            // No one listens there (any more): kaze runs on, it is only a notification.
            SystemdLog.NotifyFailed(logger, what, Environment.GetEnvironmentVariable(SocketVariable) ?? "", e.Message);
        }
    }
}

internal static partial class SystemdLog
{
    [LoggerMessage(EventId = 311, Level = LogLevel.Information, Message = "Told systemd {What}")]
    public static partial void Notified(ILogger logger, string what);

    [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "Could not tell systemd {What} through NOTIFY_SOCKET={Socket}: {Reason}")]
    public static partial void NotifyFailed(ILogger logger, string what, string socket, string reason);
}
