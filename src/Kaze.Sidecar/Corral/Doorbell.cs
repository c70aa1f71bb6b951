namespace Kaze.Sidecar.Corral;

/// <summary>
/// Wakes one waiting writer loop. A ring with nobody waiting is remembered, so a ring between
/// "the queue looked empty" and "start waiting" is never lost.
/// </summary>
internal sealed class Doorbell
{
    private readonly Lock _lock = new();

    // Rung while nobody waited; the next WaitAsync returns at once and clears it.
    private bool _rung;

    // The pending wait, completed by Ring.
    private TaskCompletionSource? _waiter;

    public Task WaitAsync()
    {
        lock (_lock)
        {
            if (_rung)
            {
                _rung = false;
                return Task.CompletedTask;
            }

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task;
        }
    }

    public void Ring()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            if (waiter is null)
            {
                _rung = true;
            }
        }

        waiter?.TrySetResult();
    }
}
