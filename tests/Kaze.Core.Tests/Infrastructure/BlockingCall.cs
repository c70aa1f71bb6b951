using System.Diagnostics;
using Xunit;

namespace Kaze.Core.Tests.Infrastructure;

/// <summary>
/// A blocking call run on its own thread, with the moment it returned: for tests where one thread
/// blocks in a wait and the test thread does what should end it.
/// </summary>
internal sealed class BlockingCall<T>
{
    private readonly Thread _thread;
    private T? _result;
    private Exception? _error;

    private BlockingCall(string name, Func<T> call)
    {
        _thread = new Thread(() =>
        {
            try
            {
                _result = call();
            }
            catch (Exception e)
            {
                // Rethrown by Result on the test thread; an escaping exception would kill the test host.
                _error = e;
            }

            ReturnedAt = Stopwatch.GetTimestamp();
        })
        {
            IsBackground = true,
            Name = name,
        };
    }

    /// <summary>Stopwatch timestamp taken right after the call returned.</summary>
    public long ReturnedAt { get; private set; }

    public bool IsCompleted => !_thread.IsAlive;

    public static BlockingCall<T> Start(string name, Func<T> call)
    {
        var blocking = new BlockingCall<T>(name, call);
        blocking._thread.Start();
        return blocking;
    }

    /// <summary>Waits for the call to return and gives its result; fails after <paramref name="timeout"/>.</summary>
    public T Result(TimeSpan timeout, string what)
    {
        if (!_thread.Join(timeout))
        {
            Assert.Fail($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {what}.");
        }

        if (_error is not null)
        {
            throw new InvalidOperationException($"{_thread.Name} threw: {_error.Message}", _error);
        }

        return _result!;
    }
}
