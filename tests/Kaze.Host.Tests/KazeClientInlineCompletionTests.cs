using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests;

/// <summary>Where the code after <c>await CallAsync</c> runs: the thread pool by default, the reader with CompleteCallsInline.</summary>
public sealed class KazeClientInlineCompletionTests : IAsyncLifetime
{
    private static readonly Ident Remote = Ident.Parse("0.0.0.2");

    private readonly InMemorySidecar _sidecar = new(Ident.Parse("0.0.0.1"));
    // Holds the remote node's answer until the caller is awaiting, so the call cannot complete synchronously.
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task InitializeAsync()
    {
        _sidecar.MapNode(Remote, "ping", async (request, _) =>
        {
            await _release.Task.ConfigureAwait(false);
            return KazeReply.Ok(request.Body);
        });
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _sidecar.DisposeAsync().AsTask();

    [Fact]
    public async Task CompleteCallsInline_CodeAfterTheAwaitRunsOnTheReaderThread()
    {
        await using KazeClient client = _sidecar.CreateClient(new KazeClientOptions { CompleteCallsInline = true });
        client.Start();

        Task<string?> continuation = CallThenNameThread(client);
        _release.SetResult();

        Assert.StartsWith("kaze-host-read", await continuation.Within("the call's continuation"));
    }

    [Fact]
    public async Task ByDefault_CodeAfterTheAwaitRunsOffTheReaderThread()
    {
        await using KazeClient client = _sidecar.CreateClient();
        client.Start();

        Task<string?> continuation = CallThenNameThread(client);
        _release.SetResult();

        string? thread = await continuation.Within("the call's continuation");
        Assert.False(thread?.StartsWith("kaze-host-read", StringComparison.Ordinal) ?? false, $"ran on {thread}");
    }

    [Fact]
    public async Task CompleteCallsInline_ContinuationThatCallsAgain_GetsItsResponse()
    {
        // The continuation runs on the reader and issues the next call from there: the reader must
        // return to its loop to read that response, so this would hang if the reader waited inline.
        await using KazeClient client = _sidecar.CreateClient(new KazeClientOptions { CompleteCallsInline = true });
        client.Start();
        _release.SetResult();

        int ok = 0;
        for (int i = 0; i < 1000; i++)
        {
            KazeResponse response = await client.CallAsync(Remote, "ping", Bytes.Of("x")).Within($"call {i}");
            ok += response.IsOk ? 1 : 0;
        }

        Assert.Equal(1000, ok);
    }

    private static async Task<string?> CallThenNameThread(KazeClient client)
    {
        // ConfigureAwait(false): xunit runs tests under a SynchronizationContext, which would take the continuation.
        KazeResponse response = await client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        Assert.True(response.IsOk, $"the call failed: {response.Code}");
        return Thread.CurrentThread.Name;
    }
}
