using Kaze.Http.Flow;
using Kaze.Protocol;

namespace Kaze.Http.Tests.Flow;

public sealed class BodyInboxTests
{
    private readonly List<int> _grants = [];

    [Fact]
    public async Task Bytes_ReadInOrder_AcrossPackets_ThenEnd()
    {
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        Assert.True(inbox.TryAdd(Chunk(1, 30), end: false));
        Assert.True(inbox.TryAdd(Chunk(31, 20), end: true));

        byte[] buffer = new byte[64];
        int first = await inbox.ReadAsync(buffer.AsMemory(0, 40), CancellationToken.None);
        int second = await inbox.ReadAsync(buffer.AsMemory(first), CancellationToken.None);
        int end = await inbox.ReadAsync(buffer, CancellationToken.None);

        Assert.Equal(50, first + second);
        Assert.Equal(0, end);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (byte)i), buffer[..50]);
        Assert.Empty(_grants);
    }

    [Fact]
    public void MoreThanGranted_IsRefused()
    {
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 40, _grants.Add);

        Assert.True(inbox.TryAdd(Chunk(0, 40), end: false));
        Assert.False(inbox.TryAdd(Chunk(0, 1), end: false));
    }

    [Fact]
    public void BytesAfterTheEnd_AreRefused()
    {
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        Assert.True(inbox.TryAdd(Chunk(0, 10), end: true));

        Assert.False(inbox.TryAdd(Chunk(0, 1), end: false));
    }

    [Fact]
    public async Task Reading_GrantsHalfAWindowAtATime_AndTheSenderMaySendThatMuchMore()
    {
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        Assert.True(inbox.TryAdd(Chunk(0, 100), end: false));
        Assert.False(inbox.TryAdd(Chunk(0, 1), end: false));
        byte[] buffer = new byte[30];

        await inbox.ReadAsync(buffer, CancellationToken.None);
        Assert.Empty(_grants);
        await inbox.ReadAsync(buffer, CancellationToken.None);

        Assert.Equal([60], _grants);
        Assert.True(inbox.TryAdd(Chunk(0, 60), end: false));
    }

    [Fact]
    public async Task Read_WaitsForBytes_EmptyReadWaitsToo()
    {
        // One reader at a time, as the forwarder reads: first an empty read (YARP's way of waiting
        // for data without holding a buffer), then a read.
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        ValueTask<int> empty = inbox.ReadAsync(Memory<byte>.Empty, CancellationToken.None);
        Assert.False(empty.IsCompleted);

        inbox.TryAdd(Chunk(0, 5), end: false);
        Assert.Equal(0, await empty.AsTask().Within("the empty read to see bytes arrive"));
        Assert.Equal(5, await inbox.ReadAsync(new byte[10], CancellationToken.None).AsTask().Within("the read to get the bytes"));

        ValueTask<int> read = inbox.ReadAsync(new byte[10], CancellationToken.None);
        Assert.False(read.IsCompleted);
        inbox.TryAdd(Chunk(5, 3), end: false);
        Assert.Equal(3, await read.AsTask().Within("a waiting read to get the next bytes"));
    }

    [Fact]
    public async Task Failure_FailsAWaitingReader_ButNotAnEndedBody()
    {
        var inbox = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        ValueTask<int> read = inbox.ReadAsync(new byte[10], CancellationToken.None);

        inbox.Fail(new InvalidOperationException("reset by the peer"));

        IOException failure = await Assert.ThrowsAsync<IOException>(() => read.AsTask().Within("the read to fail"));
        Assert.Contains("reset by the peer", failure.Message);

        var ended = new BodyInbox(new WindowBudget(window: 100, budget: 1 << 20), allowance: 100, _grants.Add);
        ended.TryAdd(Chunk(0, 3), end: true);
        ended.Fail(new InvalidOperationException("late reset"));
        Assert.Equal(3, await ended.ReadAsync(new byte[10], CancellationToken.None));
    }

    [Fact]
    public async Task Window_IsTheBudgetSharedAmongOpenBodies_AndComesBackWhenTheyClose()
    {
        // 1 MiB window, 4 MiB budget: up to 4 bodies get the whole window; 16 get 256 KiB each;
        // never less than one 64 KiB chunk however many are open.
        var windows = new WindowBudget(window: 1 << 20, budget: 4 << 20);
        List<BodyInbox> open = [.. Enumerable.Range(0, 4).Select(_ => new BodyInbox(windows, 0, _grants.Add))];
        Assert.Equal(1 << 20, open[0].Window);

        open.AddRange(Enumerable.Range(0, 12).Select(_ => new BodyInbox(windows, 0, _grants.Add)));
        Assert.Equal(256 << 10, open[0].Window);

        open.AddRange(Enumerable.Range(0, 200).Select(_ => new BodyInbox(windows, 0, _grants.Add)));
        Assert.Equal(64 << 10, open[0].Window);

        // Disposed, failed, or read to the end: each leaves once.
        foreach (BodyInbox inbox in open.Skip(2))
        {
            inbox.Dispose();
            inbox.Dispose();
        }

        open[1].Fail(new InvalidOperationException("reset"));
        Assert.Equal(1, windows.Open);
        Assert.True(open[0].TryAdd(Chunk(0, 0), end: true));
        Assert.Equal(0, await open[0].ReadAsync(new byte[1], CancellationToken.None));
        Assert.Equal(0, windows.Open);
        Assert.Equal(1 << 20, windows.Current);
    }

    [Fact]
    public async Task Grants_FollowTheCurrentWindow()
    {
        // Alone, the body's reader grants every half window (512 KiB); with 15 more bodies open the
        // window is 256 KiB and the reader grants every 128 KiB.
        var windows = new WindowBudget(window: 1 << 20, budget: 4 << 20);
        var inbox = new BodyInbox(windows, allowance: 1 << 20, _grants.Add);
        byte[] buffer = new byte[64 << 10];
        for (int i = 0; i < 8; i++)
        {
            Assert.True(inbox.TryAdd(Chunk(0, 64 << 10), end: false));
            await inbox.ReadAsync(buffer, CancellationToken.None);
        }

        Assert.Equal([512 << 10], _grants);

        List<BodyInbox> others = [.. Enumerable.Range(0, 15).Select(_ => new BodyInbox(windows, 0, _ => { }))];
        _grants.Clear();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(inbox.TryAdd(Chunk(0, 64 << 10), end: false));
            await inbox.ReadAsync(buffer, CancellationToken.None);
        }

        Assert.Equal([128 << 10, 128 << 10], _grants);
        others.ForEach(o => o.Dispose());
    }

    [Fact]
    public async Task SendCredit_WriterWaitsForAGrant_AndFailsWithTheExchange()
    {
        var credit = new SendCredit(10);
        Assert.Equal(10, await credit.TakeAsync(64, CancellationToken.None));
        ValueTask<int> waiting = credit.TakeAsync(64, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        credit.Add(20);
        Assert.Equal(20, await waiting.AsTask().Within("the writer to get its grant"));

        ValueTask<int> failing = credit.TakeAsync(1, CancellationToken.None);
        credit.Fail(new InvalidOperationException("gone"));
        await Assert.ThrowsAsync<IOException>(() => failing.AsTask().Within("the writer to fail"));
    }

    private static Packet Chunk(int first, int length) =>
        Packet.Create(new Hdr(), Enumerable.Range(first, length).Select(i => (byte)i).ToArray());
}
