using System.Diagnostics;
using Kaze.Core.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Core.Tests.Waiting;

/// <summary>
/// Blocking and async waits of both ring ends: woken by the other side, timeouts, cancellation.
/// </summary>
/// <remarks>
/// A waiter also wakes by itself every 100 ms to check the peer's pid, so a missing wake would
/// still "succeed", only late. Wake tests therefore repeat the wake and bound the median
/// latency well below that interval (a missing wake makes the median ~50 ms).
/// </remarks>
[Collection(SerialTests.Name)]
public sealed class RingWaiterTests(ITestOutputHelper output) : IDisposable
{
    private const int WakeIterations = 10;
    private const double WakeMedianBoundMs = 15;

    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    /// <summary>
    /// Ring of 256 bytes. "wrap": records of 64, 64, 64, 32 bytes leave 32 free at the end; a 64-byte
    /// record must wrap, so it needs 32 (skipped) + 64 = 96 bytes: releasing the first record frees
    /// exactly that. "no wrap": four 64-byte records fill the ring; releasing one frees exactly the 64 needed.
    /// </summary>
    public static TheoryData<string, int[], int> ExactSpaceCases => new()
    {
        { "wrap", new[] { 60, 60, 60, 28 }, 60 },
        { "no wrap", new[] { 60, 60, 60, 60 }, 60 },
    };

    [Theory]
    [MemberData(nameof(ExactSpaceCases))]
    public void Claim_ReleaseFreesExactlyTheSpaceNeeded_WakesTheWriterAndSucceeds(string variant, int[] fill, int claim)
    {
        var latencies = new List<double>();
        for (int i = 0; i < WakeIterations; i++)
        {
            using ChannelPair pair = FillExactlyShort(fill, claim);
            long blocked = pair.Writer.BlockedWaits;
            var call = BlockingCall<ChannelStatus>.Start("claim", () =>
            {
                ChannelStatus status = pair.Writer.Claim(claim, out Span<byte> payload, Deadline.Short);
                if (status == ChannelStatus.Ok)
                {
                    payload.Fill(0x5A);
                    pair.Writer.Commit();
                }

                return status;
            });
            Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "the blocking Claim to go to sleep on the full ring", Deadline.Short);

            long releasedAt = ReleaseFirstRecord(pair);

            Assert.Equal(ChannelStatus.Ok, call.Result(Deadline.Short, "the blocking Claim to return after the release"));
            latencies.Add(Stopwatch.GetElapsedTime(releasedAt, call.ReturnedAt).TotalMilliseconds);
            AssertRemainingRecords(pair, fill, claim);
        }

        AssertWakeMedian($"Claim woken by a release ({variant})", latencies);
    }

    [Theory]
    [MemberData(nameof(ExactSpaceCases))]
    public async Task WaitToWriteAsync_ReleaseFreesExactlyTheSpaceNeeded_CompletesOk(string variant, int[] fill, int claim)
    {
        var latencies = new List<double>();
        for (int i = 0; i < WakeIterations; i++)
        {
            using ChannelPair pair = FillExactlyShort(fill, claim);
            long blocked = pair.Writer.BlockedWaits;
            long returnedAt = 0;
            Task<ChannelStatus> wait = WaitAndStamp(pair.Writer.WaitToWriteAsync(claim), t => returnedAt = t);
            Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "WaitToWriteAsync to go to sleep on the full ring", Deadline.Short);

            long releasedAt = ReleaseFirstRecord(pair);

            Assert.Equal(ChannelStatus.Ok, await wait.Within("WaitToWriteAsync to complete after the release", Deadline.Short));
            latencies.Add(Stopwatch.GetElapsedTime(releasedAt, returnedAt).TotalMilliseconds);
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(claim, out Span<byte> payload));
            payload.Fill(0x5A);
            pair.Writer.Commit();
            AssertRemainingRecords(pair, fill, claim);
        }

        AssertWakeMedian($"WaitToWriteAsync woken by a release ({variant})", latencies);
    }

    [Fact]
    public void WaitToRead_ReaderAsleep_IsWokenByAWrite()
    {
        using ChannelPair pair = _channels.CreatePair();
        var latencies = new List<double>();
        for (int i = 0; i < WakeIterations; i++)
        {
            long blocked = pair.Reader.BlockedWaits;
            var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Deadline.Short));
            Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToRead to go to sleep on the empty ring", Deadline.Short);

            long writtenAt = Stopwatch.GetTimestamp();
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite([(byte)i]));

            Assert.Equal(ChannelStatus.Ok, call.Result(Deadline.Short, "WaitToRead to return after the write"));
            latencies.Add(Stopwatch.GetElapsedTime(writtenAt, call.ReturnedAt).TotalMilliseconds);
            Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
            Assert.Equal((byte)i, record[0]);
            pair.Reader.Release();
        }

        AssertWakeMedian("WaitToRead woken by a write", latencies);
    }

    [Fact]
    public async Task WaitToReadAsync_ReaderAsleep_IsWokenByAWrite()
    {
        using ChannelPair pair = _channels.CreatePair();
        var latencies = new List<double>();
        for (int i = 0; i < WakeIterations; i++)
        {
            long blocked = pair.Reader.BlockedWaits;
            long returnedAt = 0;
            Task<ChannelStatus> wait = WaitAndStamp(pair.Reader.WaitToReadAsync(), t => returnedAt = t);
            Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToReadAsync to go to sleep on the empty ring", Deadline.Short);

            long writtenAt = Stopwatch.GetTimestamp();
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite([(byte)i]));

            Assert.Equal(ChannelStatus.Ok, await wait.Within("WaitToReadAsync to complete after the write", Deadline.Short));
            latencies.Add(Stopwatch.GetElapsedTime(writtenAt, returnedAt).TotalMilliseconds);
            Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
            Assert.Equal((byte)i, record[0]);
            pair.Reader.Release();
        }

        AssertWakeMedian("WaitToReadAsync woken by a write", latencies);
    }

    [Fact]
    public async Task ReadAsyncAndWriteAsync_PingPong_CarryEveryRecord()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 256);
        const int count = 2_000;
        Task<ChannelStatus> producer = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                ChannelStatus status = await pair.Writer.WriteAsync(BitConverter.GetBytes(i).AsMemory(0, 1 + (i % 4)));
                if (status != ChannelStatus.Ok)
                {
                    return status;
                }
            }

            return ChannelStatus.Ok;
        });

        for (int i = 0; i < count; i++)
        {
            (ChannelStatus status, byte[]? record) = await pair.Reader.ReadAsync().AsTask().Within($"ReadAsync of record {i}", Deadline.Short);
            Assert.Equal(ChannelStatus.Ok, status);
            Assert.Equal(BitConverter.GetBytes(i).AsSpan(0, 1 + (i % 4)).ToArray(), record);
        }

        Assert.Equal(ChannelStatus.Ok, await producer.Within("the WriteAsync producer to finish", Deadline.Short));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(50)]
    public void WaitToRead_NothingWritten_ReturnsTimedOutNearTheTimeout(int timeoutMs)
    {
        using ChannelPair pair = _channels.CreatePair();
        var clock = Stopwatch.StartNew();

        ChannelStatus status = pair.Reader.WaitToRead(TimeSpan.FromMilliseconds(timeoutMs));

        AssertTimedOutNear(status, clock.Elapsed, timeoutMs, "WaitToRead");
    }

    [Fact]
    public void Read_NothingWritten_ReturnsTimedOutNearTheTimeout()
    {
        using ChannelPair pair = _channels.CreatePair();
        var clock = Stopwatch.StartNew();

        ChannelStatus status = pair.Reader.Read(out ReadOnlySpan<byte> record, TimeSpan.FromMilliseconds(150));

        AssertTimedOutNear(status, clock.Elapsed, 150, "Read");
        Assert.True(record.IsEmpty);
    }

    [Fact]
    public void Claim_RingStaysFull_ReturnsTimedOutNearTheTimeout()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        var clock = Stopwatch.StartNew();

        ChannelStatus status = pair.Writer.Claim(1, out Span<byte> payload, TimeSpan.FromMilliseconds(200));

        AssertTimedOutNear(status, clock.Elapsed, 200, "Claim");
        Assert.True(payload.IsEmpty);
        // Nothing pending: the writer can claim again once there is space.
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        pair.Reader.Release();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("x"u8));
    }

    [Fact]
    public void Write_RingStaysFull_ReturnsTimedOutNearTheTimeout()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        var clock = Stopwatch.StartNew();

        ChannelStatus status = pair.Writer.Write(new byte[10], TimeSpan.FromMilliseconds(150));

        AssertTimedOutNear(status, clock.Elapsed, 150, "Write");
    }

    [Fact]
    public void WaitToRead_ZeroTimeout_ReturnsTimedOutAtOnce()
    {
        using ChannelPair pair = _channels.CreatePair();
        var clock = Stopwatch.StartNew();

        ChannelStatus status = pair.Reader.WaitToRead(TimeSpan.Zero);

        Assert.Equal(ChannelStatus.TimedOut, status);
        Assert.True(clock.ElapsedMilliseconds < 50, $"a zero timeout took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void WaitToRead_RecordAlreadyThere_ReturnsOkAtOnce()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("x"u8));

        Assert.Equal(ChannelStatus.Ok, pair.Reader.WaitToRead(TimeSpan.Zero));
    }

    [Fact]
    public async Task WaitToReadAsync_CancelledWhileAsleep_ReturnsCancelledPromptly()
    {
        using ChannelPair pair = _channels.CreatePair();
        var latencies = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            using var cts = new CancellationTokenSource();
            long blocked = pair.Reader.BlockedWaits;
            long returnedAt = 0;
            Task<ChannelStatus> wait = WaitAndStamp(pair.Reader.WaitToReadAsync(cts.Token), t => returnedAt = t);
            Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToReadAsync to go to sleep on the empty ring", Deadline.Short);

            long cancelledAt = Stopwatch.GetTimestamp();
            cts.Cancel();

            Assert.Equal(ChannelStatus.Cancelled, await wait.Within("WaitToReadAsync to complete after Cancel", Deadline.Short));
            latencies.Add(Stopwatch.GetElapsedTime(cancelledAt, returnedAt).TotalMilliseconds);
        }

        AssertWakeMedian("WaitToReadAsync ended by Cancel", latencies);
        // The ring end is usable again after a cancelled wait.
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("x"u8));
        Assert.Equal(ChannelStatus.Ok, await pair.Reader.WaitToReadAsync().AsTask().Within("WaitToReadAsync after a cancelled one", Deadline.Short));
    }

    [Fact]
    public async Task WaitToReadAsync_TokenAlreadyCancelled_ReturnsCancelled()
    {
        using ChannelPair pair = _channels.CreatePair();

        ChannelStatus status = await pair.Reader.WaitToReadAsync(new CancellationToken(canceled: true)).AsTask().Within("WaitToReadAsync with a cancelled token", Deadline.Short);

        Assert.Equal(ChannelStatus.Cancelled, status);
    }

    [Fact]
    public async Task WaitToWriteAsync_CancelledWhileAsleep_ReturnsCancelled()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        using var cts = new CancellationTokenSource();
        long blocked = pair.Writer.BlockedWaits;
        Task<ChannelStatus> wait = pair.Writer.WaitToWriteAsync(1, cts.Token).AsTask();
        Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "WaitToWriteAsync to go to sleep on the full ring", Deadline.Short);

        cts.Cancel();

        Assert.Equal(ChannelStatus.Cancelled, await wait.Within("WaitToWriteAsync to complete after Cancel", Deadline.Short));
    }

    [Fact]
    public void WaitToRead_CancelledWhileAsleep_ReturnsCancelledWithinALivenessInterval()
    {
        using ChannelPair pair = _channels.CreatePair();
        using var cts = new CancellationTokenSource();
        long blocked = pair.Reader.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Deadline.Short, cts.Token));
        Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToRead to go to sleep on the empty ring", Deadline.Short);

        long cancelledAt = Stopwatch.GetTimestamp();
        cts.Cancel();

        Assert.Equal(ChannelStatus.Cancelled, call.Result(Deadline.Short, "WaitToRead to return after Cancel"));
        double ms = Stopwatch.GetElapsedTime(cancelledAt, call.ReturnedAt).TotalMilliseconds;
        output.WriteLine($"blocking WaitToRead noticed Cancel after {ms:0.0} ms");
        // The blocking wait is not woken by the token; it sees it at its next 100 ms slice.
        Assert.True(ms < 100 + 150, $"blocking WaitToRead took {ms:0.0} ms to notice Cancel");
    }

    [Fact]
    public async Task WaitToWriteAsync_LongerThanTheMaximum_ReturnsTooLarge()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);

        Assert.Equal(ChannelStatus.TooLarge, await pair.Writer.WaitToWriteAsync(29));
    }

    /// <summary>A fresh pair whose ring 0 holds <paramref name="fill"/> so that a claim of <paramref name="claim"/> is Full.</summary>
    private ChannelPair FillExactlyShort(int[] fill, int claim)
    {
        ChannelPair pair = _channels.CreatePair(sidecarToHost: 256);
        for (int i = 0; i < fill.Length; i++)
        {
            byte[] record = new byte[fill[i]];
            record.AsSpan().Fill((byte)(i + 1));
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(record));
        }

        Assert.Equal(ChannelStatus.Full, pair.Writer.TryClaim(claim, out _));
        return pair;
    }

    /// <summary>Reads the first record and releases it; returns the timestamp taken just before the release.</summary>
    private static long ReleaseFirstRecord(ChannelPair pair)
    {
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        long releasedAt = Stopwatch.GetTimestamp();
        pair.Reader.Release();
        return releasedAt;
    }

    private static void AssertRemainingRecords(ChannelPair pair, int[] fill, int claim)
    {
        for (int i = 1; i < fill.Length; i++)
        {
            Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
            Assert.Equal(fill[i], record.Length);
            Assert.True(record.IndexOfAnyExcept((byte)(i + 1)) < 0, $"record {i} was overwritten");
        }

        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> claimed));
        Assert.Equal(claim, claimed.Length);
        Assert.True(claimed.IndexOfAnyExcept((byte)0x5A) < 0, "the claimed record holds other bytes");
        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out _));
        pair.Reader.Release();
    }

    private static async Task<ChannelStatus> WaitAndStamp(ValueTask<ChannelStatus> wait, Action<long> stamp)
    {
        ChannelStatus status = await wait;
        stamp(Stopwatch.GetTimestamp());
        return status;
    }

    private static void AssertTimedOutNear(ChannelStatus status, TimeSpan elapsed, int timeoutMs, string what)
    {
        Assert.Equal(ChannelStatus.TimedOut, status);
        Assert.True(elapsed.TotalMilliseconds >= timeoutMs, $"{what} timed out after {elapsed.TotalMilliseconds:0.0} ms, before its {timeoutMs} ms");
        // Loose: the machine is shared; a wait that ignored its timeout would take the 100 ms slices forever.
        Assert.True(elapsed.TotalMilliseconds < timeoutMs + 250, $"{what} timed out after {elapsed.TotalMilliseconds:0.0} ms, asked for {timeoutMs} ms");
    }

    private void AssertWakeMedian(string what, List<double> latencies)
    {
        latencies.Sort();
        double median = latencies[latencies.Count / 2];
        string figures = string.Join(", ", latencies.Select(l => l.ToString("0.000")));
        output.WriteLine($"{what}: median {median:0.000} ms, all (ms): {figures}");
        Assert.True(median < WakeMedianBoundMs, $"{what}: median latency {median:0.0} ms (all: {figures}); a wake that relied on the 100 ms liveness slice would look like this");
    }
}
