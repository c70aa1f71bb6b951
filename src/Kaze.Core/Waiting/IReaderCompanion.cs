namespace Kaze.Core.Waiting;

/// <summary>
/// Other work a ring reader's thread takes on while it polls for records (see
/// <see cref="RingWaiter"/>): the waiter polls the companion between its own polls and tells it
/// before it sleeps. The sidecar's edge reader uses one to read peer connections (Kaze.Mesh's
/// ReadLender, from <c>PeerCorral.LendReads</c>), so one thread per sidecar polls instead of several.
/// </summary>
/// <remarks>
/// Public only as the seam between Kaze.Mesh (which implements it) and Kaze.Edge (whose reader
/// polls it); a ring reader takes one internally. Both methods run on the ring reader's thread.
/// </remarks>
public interface IReaderCompanion
{
    /// <summary>Does the work that is ready, without blocking; true if there was any (the waiter then keeps polling instead of going to sleep soon).</summary>
    bool Poll();

    /// <summary>The reader is about to sleep, or has stopped: nothing more is polled until the waiter polls again.</summary>
    void Sleeping();
}
