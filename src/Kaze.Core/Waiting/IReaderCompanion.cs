namespace Kaze.Core.Waiting;

/// <summary>
/// Other work a ring reader's thread takes on while it polls for records (see
/// <see cref="RingWaiter"/>): the waiter polls the companion between its own polls and tells it
/// before it sleeps. The sidecar's edge reader uses one to read peer connections (Kaze.Sidecar's
/// ReadLender), so one thread per sidecar polls instead of several.
/// </summary>
internal interface IReaderCompanion
{
    /// <summary>Does the work that is ready, without blocking; true if there was any (the waiter then keeps polling instead of going to sleep soon).</summary>
    bool Poll();

    /// <summary>The reader is about to sleep, or has stopped: nothing more is polled until the waiter polls again.</summary>
    void Sleeping();
}
