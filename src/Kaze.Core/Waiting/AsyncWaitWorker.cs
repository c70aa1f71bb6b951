namespace Kaze.Core.Waiting;

/// <summary>
/// A dedicated thread that runs one blocking ring wait at a time for async callers, so an idle
/// channel never parks a thread-pool thread in the kernel. Allocates per wait only on this slow
/// path (the channel was idle for longer than the spin).
/// </summary>
internal sealed class AsyncWaitWorker
{
    private readonly object _gate = new();
    private readonly Thread _thread;
    // The pending wait, handed over under _gate; null when the worker is idle.
    private Func<ChannelStatus>? _work;
    private TaskCompletionSource<ChannelStatus>? _completion;
    private bool _stopping;

    public AsyncWaitWorker(ShmChannel channel)
    {
        _thread = new Thread(Loop)
        {
            IsBackground = true,
            Name = "kaze-ring-wait " + channel.Name,
        };
        _thread.Start();
    }

    public Task<ChannelStatus> Run(Func<ChannelStatus> work, CancellationToken ct, RingWaiter waiter)
    {
        var completion = new TaskCompletionSource<ChannelStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_stopping)
            {
                return Task.FromResult(ChannelStatus.Closed);
            }

            if (_work is not null)
            {
                ThrowHelper.ThrowWaitPending();
            }

            _work = work;
            _completion = completion;
            Monitor.Pulse(_gate);
        }

        // Cancellation is handled inside the blocking wait (it registers to wake itself).
        return completion.Task;
    }

    public void Stop()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }

        // The channel is closed before Stop, so a running wait returns Closed promptly.
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    private void Loop()
    {
        while (true)
        {
            Func<ChannelStatus> work;
            TaskCompletionSource<ChannelStatus> completion;
            lock (_gate)
            {
                while (_work is null && !_stopping)
                {
                    Monitor.Wait(_gate);
                }

                if (_work is null)
                {
                    return;
                }

                work = _work;
                completion = _completion!;
            }

            ChannelStatus result;
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                lock (_gate)
                {
                    _work = null;
                    _completion = null;
                }

                completion.SetException(e);
                continue;
            }

            lock (_gate)
            {
                _work = null;
                _completion = null;
            }

            completion.SetResult(result);
        }
    }
}
