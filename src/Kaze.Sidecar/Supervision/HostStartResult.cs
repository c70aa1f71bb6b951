using System.Diagnostics.CodeAnalysis;

namespace Kaze.Sidecar.Supervision;

/// <summary>The outcome of <see cref="HostProcess.Start"/>: a running host, or why there is none.</summary>
public sealed class HostStartResult
{
    private HostStartResult(HostProcess? process, HostStartFailure? failure)
    {
        Process = process;
        Failure = failure;
    }

    /// <summary>True when the host program is running; then <see cref="Process"/> is set, otherwise <see cref="Failure"/>.</summary>
    [MemberNotNullWhen(true, nameof(Process))]
    [MemberNotNullWhen(false, nameof(Failure))]
    public bool IsStarted => Process is not null;

    /// <summary>The running host program, when <see cref="IsStarted"/>.</summary>
    public HostProcess? Process { get; }

    /// <summary>Why the host program did not start, when not <see cref="IsStarted"/>.</summary>
    public HostStartFailure? Failure { get; }

    internal static HostStartResult Started(HostProcess process) => new(process, null);

    internal static HostStartResult Failed(HostStartFailure failure) => new(null, failure);
}
