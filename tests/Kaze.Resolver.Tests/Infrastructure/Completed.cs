namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>Reads answers that must already be there: the synchronous paths of the resolvers.</summary>
internal static class Completed
{
    /// <summary>The result of <paramref name="task"/>, which must have completed successfully already; never blocks.</summary>
    public static T SyncResult<T>(this ValueTask<T> task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            Assert.Fail("Expected an answer that completes synchronously; the ValueTask is still pending or failed.");
        }

        return task.Result;
    }
}
