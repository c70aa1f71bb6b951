namespace Kaze.Host;

/// <summary>Settings of a <see cref="KazeClient"/>.</summary>
/// <remarks>
/// Defaults: calls time out after 5 s; up to 4,096 outgoing packets wait for ring space before
/// async senders are held back; ring records are released to the sidecar every 64 reads (and
/// whenever the reader goes idle).
/// </remarks>
public sealed class KazeClientOptions
{
    /// <summary>The timeout of a call that names none; also sent to the callee in the header. Default 5 s; 1 ms to ~49 days.</summary>
    public TimeSpan DefaultCallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Outgoing packets that may wait for ring space (the sidecar reads too slowly) before
    /// <c>KazeClient.SendAsync</c> and <c>KazeClient.CallAsync</c> wait for the queue
    /// to shrink. Responses from handlers are never held back (the reader thread never waits), so
    /// the queue can exceed this by the requests in flight. Default 4,096.
    /// </summary>
    public int MaxQueuedPackets { get; set; } = 4096;

    /// <summary>Records read before their ring space is released in one go. Default 64.</summary>
    public int ReleaseBatch { get; set; } = 64;

    /// <summary>
    /// Whether the code after <c>await client.CallAsync(...)</c> runs on the client's reader thread,
    /// right where the response is read, instead of on the thread pool. Default false.
    /// </summary>
    /// <remarks>
    /// Inline completion saves a thread hop per call: on a busy 2-core machine a parked pool thread
    /// costs tens of microseconds to wake, against a few for the whole call. The price: until that
    /// code awaits something that is not complete, the reader reads nothing else, so it must never
    /// block — no <c>.Result</c>, <c>Wait()</c>, <c>Thread.Sleep</c> or long computation after the
    /// await (a blocking wait on another call deadlocks: its response cannot be read). Code that awaits
    /// further calls or hands work to <c>Task.Run</c> is fine. Calls that time out, are cancelled or
    /// end with the channel continue on the thread that completes them. An await that captured a
    /// SynchronizationContext (UI, xunit) still posts to that context.
    /// </remarks>
    public bool CompleteCallsInline { get; set; }

    /// <summary>
    /// Whether SIGTERM and SIGINT request this host's exit as the sidecar's <c>kaze.exit</c> does
    /// (<see cref="KazeClient.ExitRequested"/> is cancelled) instead of ending the process at once.
    /// Default true: <c>kaze run</c> passes a stop signal on before it sends <c>kaze.exit</c>, and a
    /// host that stops on <see cref="KazeClient.ExitRequested"/> then exits gracefully (code 0)
    /// rather than dying of the signal (143). From <see cref="KazeClient.Start"/> to its dispose.
    /// </summary>
    public bool HandleStopSignals { get; set; } = true;

    /// <summary>Checks every setting and reports every problem at once.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message lists all of them.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (DefaultCallTimeout < TimeSpan.FromMilliseconds(1) || DefaultCallTimeout.TotalMilliseconds > uint.MaxValue)
        {
            problems.Add($"DefaultCallTimeout is {DefaultCallTimeout}: must be from 1 ms to {uint.MaxValue} ms");
        }

        if (MaxQueuedPackets < 1)
        {
            problems.Add($"MaxQueuedPackets is {MaxQueuedPackets}: must be at least 1");
        }

        if (ReleaseBatch < 1)
        {
            problems.Add($"ReleaseBatch is {ReleaseBatch}: must be at least 1");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid KazeClientOptions: " + string.Join("; ", problems));
        }
    }
}
