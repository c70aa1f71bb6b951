namespace Kaze.Sidecar.Tests.TestSupport;

/// <summary>
/// The children in these tests create a file to say they are ready (a trap installed, a loop
/// entered): a bounded wait for it, that fails early if the child exits first.
/// </summary>
internal static class ReadyFile
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    private enum State
    {
        Waiting,
        Ready,
        Exited,
    }

    /// <summary>
    /// Waits until <paramref name="path"/> exists; fails after <paramref name="timeout"/>
    /// (<see cref="Deadline.Default"/> if null), or at once if <paramref name="exited"/> completes
    /// first, since then the file will never come.
    /// </summary>
    public static async Task Appears(string path, string what, Task? exited = null, TimeSpan? timeout = null)
    {
        State state = await Eventually.UntilAsync(
            () => Task.FromResult(File.Exists(path) ? State.Ready : exited is { IsCompleted: true } ? State.Exited : State.Waiting),
            static s => s != State.Waiting,
            $"{what} ({path})",
            timeout,
            every: Interval);
        if (state == State.Exited)
        {
            throw new Xunit.Sdk.XunitException($"The process exited before {what}.");
        }
    }
}
