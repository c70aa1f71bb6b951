using System.Threading.Tasks.Sources;

namespace Kaze.Host.Calls;

/// <summary>
/// One call waiting for its response: the awaitable behind the <see cref="ValueTask{TResult}"/> that
/// <c>KazeClient.CallAsync</c> returns. Pooled: it goes back to <see cref="PendingCallTable"/>
/// once the caller has its result, so a call allocates no task.
/// </summary>
/// <remarks>
/// Whoever removes the call from the table completes it, exactly once: the reader (response), the
/// timer (timeout), the cancellation callback, or the end of the channel.
/// </remarks>
internal sealed class PendingCall : IValueTaskSource<KazeResponse>
{
    private readonly PendingCallTable _table;
    // Continuations run on the thread pool, unless the client completes calls inline (then on the
    // thread that completes the call: the reader, the timer or the canceller); never inside the table's lock.
    private ManualResetValueTaskSourceCore<KazeResponse> _core;
    private CancellationTokenRegistration _cancellation;

    public PendingCall(PendingCallTable table, bool runContinuationsInline)
    {
        _table = table;
        _core.RunContinuationsAsynchronously = !runContinuationsInline;
    }

    /// <summary>The request's sequence number (the response's rsp).</summary>
    public uint Sequence { get; private set; }

    /// <summary>When the call times out, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long Deadline { get; private set; }

    public short Version => _core.Version;

    public ValueTask<KazeResponse> AsValueTask() => new(this, _core.Version);

    public void Initialize(uint sequence, long deadline)
    {
        Sequence = sequence;
        Deadline = deadline;
    }

    /// <summary>Makes <paramref name="ct"/> end the call; call after the call is in the table.</summary>
    public void RegisterCancellation(CancellationToken ct)
    {
        if (ct.CanBeCanceled)
        {
            _cancellation = ct.UnsafeRegister(
                static (state, token) =>
                {
                    var call = (PendingCall)state!;
                    if (call._table.Remove(call))
                    {
                        call.Fail(new OperationCanceledException(token));
                    }
                },
                this);
        }
    }

    public void Complete(in KazeResponse response) => _core.SetResult(response);

    public void Fail(Exception error) => _core.SetException(error);

    public KazeResponse GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Waits for a cancellation callback that is still running, so the call is not reused under it.
            _cancellation.Dispose();
            _cancellation = default;
            _core.Reset();
            _table.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
