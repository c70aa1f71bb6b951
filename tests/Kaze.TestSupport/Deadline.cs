using Xunit.Sdk;

namespace Kaze.TestSupport;

/// <summary>
/// Bounded waits for a task: every wait on something that will complete by itself goes through
/// here. Each has a timeout, and its failure says what was awaited (and, if given, what the test's
/// fixture looked like then). A task that fails fails the wait with its own exception.
/// </summary>
public static class Deadline
{
    /// <summary>For things that take microseconds when all is well (a wake-up, an in-memory lookup).</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);

    /// <summary>Generous: the machine is small and shared, and a failure should be a hang, not a slow run.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    /// <summary>For waits that include starting a program (a kaze start costs a JIT-ed .NET process).</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    /// <summary>Awaits <paramref name="task"/>; fails after <paramref name="timeout"/> (<see cref="Default"/> if null), naming <paramref name="what"/>.</summary>
    /// <param name="context">If given, called on a timeout and its text added to the failure (e.g. a process's output so far).</param>
    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null, Func<string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        TimeSpan limit = timeout ?? Default;
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException e) when (!IsFrom(task, e))
        {
            throw TimedOut(limit, what, context);
        }
    }

    /// <summary>Awaits <paramref name="task"/>; fails after <paramref name="timeout"/> (<see cref="Default"/> if null), naming <paramref name="what"/>.</summary>
    /// <param name="context">If given, called on a timeout and its text added to the failure (e.g. a process's output so far).</param>
    public static async Task Within(this Task task, string what, TimeSpan? timeout = null, Func<string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        TimeSpan limit = timeout ?? Default;
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException e) when (!IsFrom(task, e))
        {
            throw TimedOut(limit, what, context);
        }
    }

    /// <summary>Awaits <paramref name="task"/>; fails after <paramref name="timeout"/> (<see cref="Default"/> if null), naming <paramref name="what"/>.</summary>
    public static Task<T> Within<T>(this ValueTask<T> task, string what, TimeSpan? timeout = null, Func<string>? context = null) =>
        task.AsTask().Within(what, timeout, context);

    /// <summary>The failure of a wait for <paramref name="what"/> that lasted <paramref name="limit"/>; <paramref name="context"/>'s text follows after <paramref name="separator"/>.</summary>
    internal static XunitException TimedOut(TimeSpan limit, string what, Func<string>? context = null, string separator = "\n") =>
        new($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.{(context is null ? "" : separator + context())}");

    // A TimeoutException the task itself failed with is its own failure, not the wait's.
    private static bool IsFrom(Task task, TimeoutException e) => task.IsFaulted && task.Exception!.InnerExceptions.Contains(e);
}
