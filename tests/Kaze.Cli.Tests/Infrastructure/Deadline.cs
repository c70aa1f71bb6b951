using Xunit.Sdk;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>Every wait in these tests goes through here: bounded, and its failure says what was awaited.</summary>
internal static class Deadline
{
    /// <summary>Generous: the machine is small and shared (a kaze start costs a JIT-ed .NET process), and a failure should be a hang, not a slow run.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(20);

    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null, Func<string>? context = null)
    {
        TimeSpan limit = timeout ?? Default;
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.{Describe(context)}");
        }
    }

    public static async Task Within(this Task task, string what, TimeSpan? timeout = null, Func<string>? context = null)
    {
        TimeSpan limit = timeout ?? Default;
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {what}.{Describe(context)}");
        }
    }

    private static string Describe(Func<string>? context) => context is null ? "" : "\n" + context();
}
