using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Supervision;

/// <summary>Log events of the host-process supervisor (event ids 100–109).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Started host process {Pid}: {Path}")]
    public static partial void Started(ILogger logger, int pid, string path);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Host process {Pid} exited with code {ExitCode}")]
    public static partial void Exited(ILogger logger, int pid, int exitCode);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Forwarded {Signal} to host process {Pid}")]
    public static partial void SignalForwarded(ILogger logger, string signal, int pid);

    [LoggerMessage(EventId = 103, Level = LogLevel.Debug, Message = "Not forwarding {Signal} to host process {Pid}: the terminal sent it to the whole foreground process group, the host included")]
    public static partial void SignalLeftToTerminal(ILogger logger, string signal, int pid);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Asking host process {Pid} to exit; it has {Grace} before it is killed")]
    public static partial void RequestingExit(ILogger logger, int pid, TimeSpan grace);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Could not ask host process {Pid} to exit; it will be killed when its grace period ends")]
    public static partial void RequestExitFailed(ILogger logger, int pid, Exception exception);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Host process {Pid} did not exit within {Grace}; sending SIGKILL")]
    public static partial void GraceExpired(ILogger logger, int pid, TimeSpan grace);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Host process {Pid} is still running while its supervisor is disposed; sending SIGKILL")]
    public static partial void KilledOnDispose(ILogger logger, int pid);

    [LoggerMessage(EventId = 108, Level = LogLevel.Debug, Message = "No pidfd for host process {Pid}; signalling it by pid")]
    public static partial void NoPidFd(ILogger logger, int pid);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Stop of host process {Pid} no longer graceful: cancelled; sending SIGKILL")]
    public static partial void StopCancelled(ILogger logger, int pid);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "SIGKILL sent to {Count} descendants of host process {Pid} too")]
    public static partial void KilledDescendants(ILogger logger, int pid, int count);
}
