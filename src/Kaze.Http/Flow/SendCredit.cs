namespace Kaze.Http.Flow;

/// <summary>
/// The sending end's view of a body's flow control: the bytes the receiver has granted and the
/// sender has not yet used. A writer takes credit before each chunk, waiting while there is none.
/// </summary>
internal sealed class SendCredit
{
    private readonly Lock _lock = new();

    // Granted and not yet taken.
    private long _available;

    // Set when the exchange failed: writers get it (as an IOException).
    private Exception? _failure;

    // The writer waiting for credit; null while none waits.
    private TaskCompletionSource? _waiter;

    public SendCredit(long initial) => _available = initial;

    /// <summary>Adds a grant from the receiver.</summary>
    public void Add(long bytes)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            // A receiver that grants absurdly much cannot overflow the count.
            _available = Math.Min(_available + bytes, long.MaxValue / 2);
            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult();
    }

    /// <summary>Takes up to <paramref name="want"/> bytes of credit without waiting; 0 when there is none.</summary>
    public int TryTake(int want)
    {
        lock (_lock)
        {
            if (_failure is not null)
            {
                return 0;
            }

            int taken = (int)Math.Min(want, _available);
            _available -= taken;
            return taken;
        }
    }

    /// <summary>Takes between 1 and <paramref name="want"/> bytes of credit, waiting for a grant while there is none.</summary>
    /// <exception cref="IOException">The exchange failed.</exception>
    public async ValueTask<int> TakeAsync(int want, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw new IOException(_failure.Message, _failure);
                }

                if (_available > 0)
                {
                    int taken = (int)Math.Min(want, _available);
                    _available -= taken;
                    return taken;
                }

                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Fails every writer, now and later.</summary>
    public void Fail(Exception failure)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            _failure ??= failure;
            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult();
    }
}
