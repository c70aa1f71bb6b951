using System.Runtime.InteropServices;

namespace Kaze.Sidecar.Supervision;

/// <summary>What happened to a signal handed to <see cref="HostProcess.ForwardSignal"/>.</summary>
internal enum SignalForwardOutcome
{
    /// <summary>Sent to the child.</summary>
    Sent,

    /// <summary>Not sent: the terminal already delivered it to the child (see <see cref="SignalForwarder"/>).</summary>
    LeftToTerminal,

    /// <summary>Not sent: the child has exited.</summary>
    ChildGone,
}

/// <summary>
/// Catches SIGINT, SIGTERM, SIGHUP and SIGQUIT for this process, keeps .NET from acting on them
/// (no shutdown of our own: we live as long as the child and exit with its code) and passes them
/// on to the child.
/// </summary>
/// <remarks>
/// <para>
/// Registered before the child is started, so that no signal falls into the gap between the start
/// and the registration; a signal that arrives before the child exists is held and delivered as
/// soon as it does.
/// </para>
/// <para>
/// SIGINT and SIGQUIT from a terminal (Ctrl-C, Ctrl-\) go to every process in the terminal's
/// foreground process group. The child is started in our group, so when that group is the
/// foreground one, the child already has the signal; sending it again would be a second Ctrl-C,
/// which many programs take as "stop cleaning up and quit now" (docker compose; in Python a
/// second KeyboardInterrupt aborts the cleanup of the first). tini and dumb-init avoid the
/// duplicate by moving the child out of their process group between fork and exec (tini also
/// makes it the terminal's foreground group); <see cref="System.Diagnostics.Process"/> offers
/// no such hook, and a handler cannot see who sent a signal (PosixSignalRegistration gives no
/// siginfo), so the rule is: SIGINT and SIGQUIT are not forwarded while both we and the child
/// are in our terminal's foreground process group; otherwise (no terminal, run in the
/// background, the child moved to a group of its own) they are. The cost: a SIGINT sent with
/// kill(1) to a kaze that is the foreground job of a terminal does not reach the host; use
/// SIGTERM for that. SIGTERM and SIGHUP are always forwarded: they do not come from the
/// keyboard, and when they do reach the whole group (a terminal hangup, systemd's
/// control-group kill) a second one is harmless to programs that treat them as "terminate".
/// </para>
/// </remarks>
internal sealed class SignalForwarder : IDisposable
{
    private static readonly PosixSignal[] s_forwarded = [PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT];

    private readonly List<PosixSignalRegistration> _registrations = new(s_forwarded.Length);

    // Guards _target and _pending: a signal handler and Attach can run at the same time.
    private readonly Lock _gate = new();

    // The child, once started; null before.
    private HostProcess? _target;

    // Signals that arrived before the child existed, in order.
    private List<PosixSignal>? _pending;

    public SignalForwarder()
    {
        try
        {
            foreach (PosixSignal signal in s_forwarded)
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, Handle));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Starts forwarding to <paramref name="target"/>, first the signals held so far.</summary>
    public void Attach(HostProcess target)
    {
        List<PosixSignal>? pending;
        lock (_gate)
        {
            _target = target;
            pending = _pending;
            _pending = null;
        }

        if (pending is not null)
        {
            foreach (PosixSignal signal in pending)
            {
                target.ForwardSignal(signal);
            }
        }
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
    }

    /// <summary>
    /// True when the terminal already delivered <paramref name="signal"/> to the child: a
    /// keyboard signal while we and the child share our terminal's foreground process group.
    /// </summary>
    internal static bool WasDeliveredByTerminal(PosixSignal signal, ProcStat self, ProcStat child) =>
        signal is PosixSignal.SIGINT or PosixSignal.SIGQUIT
        && self.IsInTerminalForeground
        && child.ProcessGroup == self.ProcessGroup;

    /// <summary>The Linux signal number (signal(7)) of a signal this class deals with.</summary>
    internal static int ToNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ when (int)signal > 0 => (int)signal, // already a raw number
        _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "Not a signal that is forwarded."),
    };

    private void Handle(PosixSignalContext context)
    {
        // Our own default handling would stop us (SIGTERM, SIGINT) or dump core (SIGQUIT) while
        // the child runs on; instead we exit when it does, with its code.
        context.Cancel = true;

        HostProcess? target;
        lock (_gate)
        {
            target = _target;
            if (target is null)
            {
                (_pending ??= []).Add(context.Signal);
                return;
            }
        }

        target.ForwardSignal(context.Signal);
    }
}
