using Kaze.Mesh.Connections;

namespace Kaze.Mesh.Sessions;

/// <summary>
/// A thread's batch of sends: while one is open, a packet sent to a peer whose connection is free
/// is queued, with that connection's right to write kept by the batch, instead of being written
/// at once; the batch writes each such connection's queue when it closes, many frames per system
/// call. A thread that hands on many packets in a row (a reader that decoded many frames from one
/// read) so makes one send per peer instead of one per packet, without waiting for anything: the
/// batch closes as soon as the thread has handed its packets on.
/// </summary>
/// <remarks>
/// Per thread, nestable; only the outermost <see cref="End"/> writes; begin and end on the same
/// thread, with no await in between. A batch never holds up anyone else: a packet another thread
/// sends to a connection kept by a batch, or the batch's own packet that makes a writer batch's
/// worth, writes what is queued at once (<see cref="PeerSession.TrySend"/>), and the batch then no
/// longer keeps that connection.
/// </remarks>
internal sealed class SendBatch
{
    [ThreadStatic]
    private static SendBatch? t_batch;

    // Connections whose right to write this batch may still keep; PeerSession.EndHold says.
    private readonly List<PeerConnection> _kept = [];
    private int _depth;

    /// <summary>The calling thread's open batch, or null.</summary>
    public static SendBatch? Current => t_batch is { _depth: > 0 } batch ? batch : null;

    /// <summary>Opens a batch on the calling thread (or nests in the open one).</summary>
    public static void Begin() => (t_batch ??= new SendBatch())._depth++;

    /// <summary>Closes the calling thread's batch; the outermost close writes what it kept.</summary>
    public static void End()
    {
        SendBatch? batch = t_batch;
        if (batch is null || batch._depth == 0 || --batch._depth > 0)
        {
            return;
        }

        // Writing may send more (an undeliverable callback does not run here), so index, not foreach.
        List<PeerConnection> kept = batch._kept;
        for (int i = 0; i < kept.Count; i++)
        {
            kept[i].Sender.EndHold(batch);
        }

        kept.Clear();
    }

    /// <summary>This batch keeps <paramref name="connection"/>'s right to write (set under its session's lock).</summary>
    public void Keep(PeerConnection connection) => _kept.Add(connection);
}
