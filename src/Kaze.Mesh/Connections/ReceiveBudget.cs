namespace Kaze.Mesh.Connections;

/// <summary>
/// The receive memory all of a corral's connections together may hold in buffers larger than the
/// usual 64 KiB (<see cref="CorralOptions.ReceiveBudget"/>): a connection takes a large frame's
/// buffer from it before mapping one, and gives it back when the frame is done.
/// </summary>
internal sealed class ReceiveBudget
{
    private readonly long _limit;

    // Bytes taken now (Interlocked).
    private long _used;

    public ReceiveBudget(long limit)
    {
        _limit = limit;
    }

    /// <summary>The budget in bytes.</summary>
    public long Limit => _limit;

    /// <summary>Bytes taken now.</summary>
    public long Used => Volatile.Read(ref _used);

    /// <summary>Takes <paramref name="bytes"/>; false, taking nothing, if they do not fit.</summary>
    public bool TryTake(long bytes)
    {
        long used = Volatile.Read(ref _used);
        while (true)
        {
            if (used + bytes > _limit)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref _used, used + bytes, used);
            if (seen == used)
            {
                return true;
            }

            used = seen;
        }
    }

    /// <summary>Gives back what <see cref="TryTake"/> took.</summary>
    public void Give(long bytes) => Interlocked.Add(ref _used, -bytes);
}
