using Xunit.Sdk;

namespace Kaze.Host.Tests.TestSupport;

/// <summary>Every wait in these tests goes through here: bounded, and its failure says what was awaited.</summary>
internal static class Deadline
{
    /// <summary>Generous: the machine is small and shared, and a failure should be a hang, not a slow run.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Default;
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.");
        }
    }

    public static async Task Within(this Task task, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Default;
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.");
        }
    }

    public static Task<T> Within<T>(this ValueTask<T> task, string what, TimeSpan? timeout = null) => task.AsTask().Within(what, timeout);

    /// <summary>Polls a condition that has no event to wait on (e.g. a counter), with a bound and a named failure.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Default;
        using var cts = new CancellationTokenSource(limit);
        while (!condition())
        {
            try
            {
                await Task.Delay(5, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.");
            }
        }
    }
}
