using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests;

/// <summary>Where the code after <c>await CallAsync</c> runs: the thread pool by default, the reader with CompleteCallsInline.</summary>
public sealed class KazeClientInlineCompletionTests
{
    private static readonly Ident Remote = Ident.Parse("0.0.0.2");

    // Holds the remote node's answer until the caller is awaiting, so the call cannot complete synchronously.
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task CompleteCallsInline_CodeAfterTheAwaitRunsOnTheReaderThread()
    {
        await using InMemoryPair pair = StartWithHeldPing(new KazeClientOptions { CompleteCallsInline = true });

        Task<string?> continuation = CallThenNameThread(pair.Client);
        _release.SetResult();

        Assert.StartsWith("kaze-host-read", await continuation.Within("the call's continuation"));
    }

    [Fact]
    public async Task ByDefault_CodeAfterTheAwaitRunsOffTheReaderThread()
    {
        await using InMemoryPair pair = StartWithHeldPing();

        Task<string?> continuation = CallThenNameThread(pair.Client);
        _release.SetResult();

        string? thread = await continuation.Within("the call's continuation");
        Assert.False(thread?.StartsWith("kaze-host-read", StringComparison.Ordinal) ?? false, $"ran on {thread}");
    }

    [Fact]
    public async Task CompleteCallsInline_ContinuationThatCallsAgain_GetsItsResponse()
    {
        // The continuation runs on the reader and issues the next call from there: the reader must
        // return to its loop to read that response, so this would hang if the reader waited inline.
        await using InMemoryPair pair = StartWithHeldPing(new KazeClientOptions { CompleteCallsInline = true });
        _release.SetResult();

        int ok = 0;
        for (int i = 0; i < 1000; i++)
        {
            KazeResponse response = await pair.Client.CallAsync(Remote, "ping", Bytes.Of("x")).Within($"call {i}");
            ok += response.IsOk ? 1 : 0;
        }

        Assert.Equal(1000, ok);
    }

    /// <summary>A started client with <paramref name="options"/>; its sidecar plays <see cref="Remote"/>, whose "ping" answer waits for <see cref="_release"/>.</summary>
    private InMemoryPair StartWithHeldPing(KazeClientOptions? options = null)
    {
        InMemoryPair pair = InMemoryPair.Create(Ident.Parse("0.0.0.1"), options: options);
        pair.Sidecar.MapNode(Remote, "ping", async (request, _) =>
        {
            await _release.Task.ConfigureAwait(false);
            return KazeReply.Ok(request.Body);
        });
        pair.Client.Start();
        return pair;
    }

    private static async Task<string?> CallThenNameThread(KazeClient client)
    {
        // ConfigureAwait(false): xunit runs tests under a SynchronizationContext, which would take the continuation.
        KazeResponse response = await client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        Assert.True(response.IsOk, $"the call failed: {response.Code}");
        return Thread.CurrentThread.Name;
    }
}
