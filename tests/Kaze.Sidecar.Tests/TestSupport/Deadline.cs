using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.TestSupport;

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

    /// <summary>
    /// Waits until <paramref name="path"/> exists: the children in these tests create a file to
    /// say they are ready (a trap installed, a loop entered). Fails early if <paramref name="exited"/>
    /// completes first, since then the file will never come.
    /// </summary>
    public static async Task FileExists(string path, string what, Task? exited = null, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Default;
        using var cts = new CancellationTokenSource(limit);
        while (!File.Exists(path))
        {
            if (exited is { IsCompleted: true } && !File.Exists(path))
            {
                throw new XunitException($"The process exited before {what}.");
            }

            try
            {
                await Task.Delay(10, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what} ({path}).");
            }
        }
    }
}
