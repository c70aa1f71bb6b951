using System.Diagnostics;
using Kaze.Core.Waiting;
using Kaze.Mesh.Sessions;

namespace Kaze.Mesh.Connections;

/// <summary>
/// Lends the peer connections' reads to the host edge's reader thread while that thread is
/// awake, so that one thread per sidecar polls for traffic instead of one per connection plus
/// the edge's.
/// </summary>
/// <remarks>
/// <para>
/// Why: a call across two sidecars crosses, in each, the edge's reader and a connection's
/// reader. Each such thread polls for a while before it sleeps, since a kernel wake-up costs
/// tens of µs on a small VM. But the scheduler gives every runnable thread its share of a core,
/// polling or not, so on two cores six polling threads (two per sidecar, one per host) slowed
/// the ones with work. With the reads lent, four poll.
/// </para>
/// <para>
/// How: a connection whose thread would wait for bytes while the edge's reader polls (awake and
/// polled within <see cref="StaleAfter"/>) lends its socket instead, and its thread sleeps, not
/// runnable, until the socket is given back. The edge's reader, at each of its polls
/// (<see cref="Poll"/>), reads every lent socket without waiting and decodes and delivers what
/// arrived, exactly as the connection's thread would. The socket goes back to its thread
/// <list type="bullet">
/// <item>when the edge's reader is about to sleep, or has stopped (<see cref="Sleeping"/>);</item>
/// <item>when anything other than packets arrives: the peer's FIN, an error, a bad frame (the
/// connection's thread handles those, as it would have);</item>
/// <item>when the edge's reader has not polled for <see cref="StaleAfter"/> (a pipeline step that
/// blocks it): the connection's thread takes it back and reads for itself, and lends nothing to
/// a reader that stale. During a long run of packets from the host the edge's reader polls
/// between batches.</item>
/// </list>
/// A connection is read by one thread at a time: the state moves Own → Lent (its thread) →
/// Reading → Lent (the edge's reader, around each read) → Own (whoever ends the loan), by
/// compare-and-swap.
/// </para>
/// </remarks>
internal sealed class ReadLender : IReaderCompanion
{
    /// <summary>
    /// The default <see cref="StaleAfter"/>: long enough that a reader the hypervisor or the
    /// scheduler held back for a few ms keeps its loans; short enough that a blocked one delays
    /// the connections' reads by no more than a scheduler tick or two.
    /// </summary>
    public static readonly TimeSpan DefaultStaleAfter = TimeSpan.FromMilliseconds(10);

    private readonly long _staleTicks;
    private readonly Lock _lock = new();
    private PeerReceiver[] _lent = [];

    // 1 from the edge reader's first poll after a sleep until its next sleep.
    private int _awake;

    // Stopwatch timestamp of the edge reader's last poll.
    private long _lastPoll;

    /// <param name="staleAfter">How long the edge's reader may go without polling before connections stop lending to it and take lent reads back; <see cref="DefaultStaleAfter"/> if null.</param>
    public ReadLender(TimeSpan? staleAfter = null)
    {
        StaleAfter = staleAfter ?? DefaultStaleAfter;
        _staleTicks = (long)(StaleAfter.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>How long the edge's reader may go without polling before connections stop lending to it, and lent ones are taken back.</summary>
    public TimeSpan StaleAfter { get; }

    /// <summary>True while the edge's reader polls: awake, and polled within <see cref="StaleAfter"/>.</summary>
    public bool IsPolling => Volatile.Read(ref _awake) != 0 && PolledRecently;

    /// <summary>The edge's reader polled within <see cref="StaleAfter"/>.</summary>
    public bool PolledRecently => Stopwatch.GetTimestamp() - Volatile.Read(ref _lastPoll) < _staleTicks;

    /// <summary>How long until the edge's reader is stale if it does not poll again (zero if it is).</summary>
    public TimeSpan UntilStale
    {
        get
        {
            long left = Volatile.Read(ref _lastPoll) + _staleTicks - Stopwatch.GetTimestamp();
            return left <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks(left * TimeSpan.TicksPerSecond / Stopwatch.Frequency + 1);
        }
    }

    /// <summary>Connections lent now; for tests.</summary>
    internal int LentCount => Volatile.Read(ref _lent).Length;

    /// <summary>On the edge's reader: reads every lent connection once, without waiting; true if any delivered or ended something.</summary>
    public bool Poll()
    {
        Volatile.Write(ref _lastPoll, Stopwatch.GetTimestamp());
        if (Volatile.Read(ref _awake) == 0)
        {
            Interlocked.Exchange(ref _awake, 1);
        }

        bool worked = false;
        foreach (PeerReceiver receiver in Volatile.Read(ref _lent))
        {
            worked |= receiver.ReadWhileLent();
        }

        return worked;
    }

    /// <summary>On the edge's reader, before it sleeps or when it stops: every lent connection goes back to its thread.</summary>
    public void Sleeping()
    {
        Interlocked.Exchange(ref _awake, 0);
        foreach (PeerReceiver receiver in Volatile.Read(ref _lent))
        {
            receiver.ReturnLoan();
        }
    }

    /// <summary>A connection lends its reads (its state is already Lent).</summary>
    public void Add(PeerReceiver receiver)
    {
        lock (_lock)
        {
            Volatile.Write(ref _lent, [.. _lent, receiver]);
        }
    }

    /// <summary>A loan ended (by whoever moved the state back to Own).</summary>
    public void Remove(PeerReceiver receiver)
    {
        lock (_lock)
        {
            int index = Array.IndexOf(_lent, receiver);
            if (index < 0)
            {
                return;
            }

            PeerReceiver[] rest = new PeerReceiver[_lent.Length - 1];
            Array.Copy(_lent, rest, index);
            Array.Copy(_lent, index + 1, rest, index, rest.Length - index);
            Volatile.Write(ref _lent, rest);
        }
    }
}
