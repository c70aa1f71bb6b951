using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.Corral;

/// <summary>
/// Waits for a condition on state the corral updates from its own loops (counters, peer states),
/// for which there is no event to await. Polls every few milliseconds; fails with what was awaited.
/// </summary>
internal static class Eventually
{
    public static async Task True(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? details = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(15);
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                string extra = details is null ? "" : Environment.NewLine + details();
                throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.{extra}");
            }

            await Task.Delay(5);
        }
    }
}
