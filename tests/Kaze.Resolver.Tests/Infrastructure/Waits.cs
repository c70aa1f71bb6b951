using System.Diagnostics;

namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>Bounded waits for tests: each has a timeout, and its failure message names what was awaited.</summary>
internal static class Waits
{
    /// <summary>Generous bound for things that take microseconds when all is well.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);

    /// <summary>Awaits <paramref name="task"/>; fails after <paramref name="timeout"/>.</summary>
    public static async Task<T> Result<T>(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {what}.");
            throw;
        }
    }

    /// <summary>Awaits <paramref name="task"/>; fails after <paramref name="timeout"/>.</summary>
    public static async Task Done(Task task, TimeSpan timeout, string what)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {what}.");
            throw;
        }
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="every"/> until it holds; fails after <paramref name="timeout"/>.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan every, TimeSpan timeout, string what)
    {
        long start = Stopwatch.GetTimestamp();
        while (!await condition())
        {
            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {what}.");
            }

            // A poll interval, not synchronisation: the condition is what the test waits for.
            await Task.Delay(every);
        }

        return Stopwatch.GetElapsedTime(start);
    }
}
