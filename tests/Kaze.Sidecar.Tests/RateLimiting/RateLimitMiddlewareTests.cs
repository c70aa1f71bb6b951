using Kaze.Protocol;
using Kaze.Service;
using Kaze.Sidecar.RateLimiting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Sidecar.Tests.RateLimiting;

public sealed class RateLimitMiddlewareTests
{
    [Fact]
    public void Total_BeyondBurst_AnswersResourceExhaustedAndRecoversAsPermitsRefill()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 10, "burst": 3 } }""");

        for (int i = 0; i < 3; i++)
        {
            h.SendNow(h.Request());
        }

        Hdr refused = h.Request();
        h.SendNow(refused);
        Assert.Equal(3, h.Passed.Count);
        (uint sequence, RetCode code, uint from) = Assert.Single(h.Replier.Sent);
        Assert.Equal((refused.Req, RetCode.ResourceExhausted, LimiterHarness.Self.Value), (sequence, code, from));
        Assert.Equal(1, h.Counters["total"]!.Answered);

        // One permit every 100 ms.
        h.Clock.Advance(TimeSpan.FromMilliseconds(100));
        h.SendNow(h.Request());
        h.SendNow(h.Request());
        Assert.Equal(4, h.Passed.Count);
        Assert.Equal(2, h.Counters["total"]!.Answered);

        // A quiet second refills the bucket to its burst, not beyond.
        h.Clock.Advance(TimeSpan.FromSeconds(1));
        for (int i = 0; i < 4; i++)
        {
            h.SendNow(h.Request());
        }

        Assert.Equal(7, h.Passed.Count);
        Assert.Equal(3, h.Counters["total"]!.Answered);
        Assert.Equal(3, h.Counters.Refused);
        Assert.True(h.Logs.Contains("Debug 650", "total", "echo"), h.Logs.Dump());
    }

    [Fact]
    public void PerSource_EachSourceHasItsOwnBucket()
    {
        using var h = LimiterHarness.Create("""{ "perSource": { "permitsPerSecond": 1, "burst": 2 } }""");

        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 3));
        h.SendNow(h.Request(source: 3));

        Assert.Equal([2u, 2u, 3u, 3u], h.Passed.Select(p => p.SrcIdent));
        Assert.Equal(RetCode.ResourceExhausted, Assert.Single(h.Replier.Sent).Code);
        Assert.Equal(1, h.Counters["perSource"]!.Answered);

        h.Clock.Advance(TimeSpan.FromSeconds(1));
        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 2));
        Assert.Equal(5, h.Passed.Count);
        Assert.Equal(2, h.Counters["perSource"]!.Answered);
        Assert.Equal(2, h.Limiter.SourcePartitions);
    }

    [Fact]
    public void PerBodyType_ListedTypeAndEveryOtherTypeHaveTheirOwnBuckets()
    {
        using var h = LimiterHarness.Create("""
            { "perBodyType": { "echo": { "permitsPerSecond": 1, "burst": 1 }, "*": { "permitsPerSecond": 1, "burst": 2 } } }
            """);

        h.SendNow(h.Request("echo"));
        h.SendNow(h.Request("echo"));
        h.SendNow(h.Request("a"));
        h.SendNow(h.Request("a"));
        h.SendNow(h.Request("a"));
        h.SendNow(h.Request("b"));
        h.SendNow(h.Request("b"));

        Assert.Equal(["echo", "a", "a", "b", "b"], h.Passed.Select(p => p.BodyType));
        Assert.Equal(1, h.Counters["perBodyType:echo"]!.Answered);
        Assert.Equal(1, h.Counters["perBodyType:*"]!.Answered);
        Assert.Equal(2, h.Limiter.BodyTypePartitions);

        h.Clock.Advance(TimeSpan.FromSeconds(1));
        h.SendNow(h.Request("echo"));
        Assert.Equal(6, h.Passed.Count);
    }

    [Fact]
    public void Notify_OverTheLimit_IsDroppedCountedAndLoggedAtDebug()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 1, "burst": 1 } }""");

        h.SendNow(LimiterHarness.Notify("log.line"));
        h.SendNow(LimiterHarness.Notify("log.line"));

        Assert.Single(h.Passed);
        Assert.Empty(h.Replier.Sent);
        Assert.Equal(1, h.Counters["total"]!.Dropped);
        Assert.Equal(0, h.Counters["total"]!.Answered);
        Assert.True(h.Logs.Contains("Debug 651", "total", "log.line", "dropped"), h.Logs.Dump());
    }

    [Fact]
    public void Responses_AndPacketsTheSidecarMade_AreNeverLimited()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 1, "burst": 1 }, "perSource": { "permitsPerSecond": 1, "burst": 1 } }""");
        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 2));
        Assert.Single(h.Passed);

        for (int i = 0; i < 100; i++)
        {
            h.SendNow(LimiterHarness.Response(source: 2), PacketOrigin.Network);
            h.SendNow(LimiterHarness.Response(source: 1), PacketOrigin.Host);
            h.SendNow(h.Request(source: 1), PacketOrigin.Sidecar);
        }

        Assert.Equal(301, h.Passed.Count);
        Assert.Equal(1, h.Counters.Refused);
    }

    [Fact]
    public async Task WaitMode_HoldsThePacketUntilAPermitIsFree()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 10, "burst": 1, "mode": "wait", "maxWait": "500ms" } }""");
        h.SendNow(h.Request());

        Hdr held = h.Request();
        ValueTask pending = h.Send(held);
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, h.Clock.PendingTimers);
        h.Clock.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(pending.IsCompleted);
        Assert.Single(h.Passed);

        h.Clock.Advance(TimeSpan.FromMilliseconds(1));
        await pending.AsTask().Within("the held request to pass after 100 ms");
        Assert.Equal([1u, held.Req], h.Passed.Select(p => p.Req));
        Assert.Empty(h.Replier.Sent);
        Assert.Equal(1, h.Counters["total"]!.Delayed);
        Assert.Equal(0, h.Counters.Refused);
    }

    [Fact]
    public async Task WaitMode_WhenTheWaitWouldExceedMaxWait_RefusesAtOnce()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 10, "burst": 1, "mode": "wait", "maxWait": "250ms" } }""");
        h.SendNow(h.Request());
        ValueTask second = h.Send(h.Request());   // free in 100 ms
        ValueTask third = h.Send(h.Request());    // free in 200 ms
        Hdr fourth = h.Request();                 // would need 300 ms
        h.SendNow(fourth);
        h.SendNow(LimiterHarness.Notify());       // a notify too: dropped

        var reply = Assert.Single(h.Replier.Sent);
        Assert.Equal(fourth.Req, reply.Sequence);
        Assert.Equal(RetCode.ResourceExhausted, reply.Code);
        Assert.Equal(1, h.Counters["total"]!.Answered);
        Assert.Equal(1, h.Counters["total"]!.Dropped);

        // The refusals took nothing: each held packet passes when its reserved permit is due.
        h.Clock.Advance(TimeSpan.FromMilliseconds(100));
        await second.AsTask().Within("the second request to pass after 100 ms");
        Assert.False(third.IsCompleted);
        h.Clock.Advance(TimeSpan.FromMilliseconds(100));
        await third.AsTask().Within("the third request to pass after 200 ms");
        Assert.Equal([1u, 2u, 3u], h.Passed.Select(p => p.Req));
        Assert.Equal(2, h.Counters["total"]!.Delayed);
    }

    [Fact]
    public void WaitMode_RequestWhoseTimeoutIsShorterThanTheWait_IsRefusedAtOnce()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 10, "burst": 1, "mode": "wait", "maxWait": "1s" } }""");
        h.SendNow(h.Request());

        Hdr hurried = h.Request(timeoutMs: 50);
        h.SendNow(hurried);

        Assert.Equal(hurried.Req, Assert.Single(h.Replier.Sent).Sequence);
        Assert.Equal(0, h.Clock.PendingTimers);
    }

    [Fact]
    public void Refusal_ByALaterRule_GivesBackThePermitsEarlierRulesTook()
    {
        using var h = LimiterHarness.Create("""
            { "total": { "permitsPerSecond": 1, "burst": 3 }, "perSource": { "permitsPerSecond": 1, "burst": 1 } }
            """);

        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 2)); // refused by perSource: total keeps its permit
        h.SendNow(h.Request(source: 2));
        h.SendNow(h.Request(source: 3));
        h.SendNow(h.Request(source: 4));
        h.SendNow(h.Request(source: 5)); // refused by total

        Assert.Equal([2u, 3u, 4u], h.Passed.Select(p => p.SrcIdent));
        Assert.Equal(2, h.Counters["perSource"]!.Answered);
        Assert.Equal(1, h.Counters["total"]!.Answered);
    }

    [Fact]
    public void Partitions_AreBoundedAndIdleOnesAreSwept()
    {
        using var h = LimiterHarness.Create("""{ "perSource": { "permitsPerSecond": 1, "burst": 1 }, "maxPartitions": 3 }""");

        foreach (uint source in new uint[] { 10, 11, 12 })
        {
            h.SendNow(h.Request(source: source));
        }

        Assert.Equal(3, h.Limiter.SourcePartitions);

        // The table is full and nothing in it is idle: newcomers share one overflow bucket.
        h.SendNow(h.Request(source: 13));
        h.SendNow(h.Request(source: 14));
        Assert.Equal(3, h.Limiter.SourcePartitions);
        Assert.Equal(4, h.Passed.Count);
        Assert.Equal(1, h.Counters["perSource"]!.Answered);

        // Once the buckets are full again they are swept, and a newcomer gets its own.
        h.Clock.Advance(TimeSpan.FromSeconds(2));
        h.SendNow(h.Request(source: 15));
        h.SendNow(h.Request(source: 15));
        Assert.Equal(1, h.Limiter.SourcePartitions);
        Assert.Equal(5, h.Passed.Count);
        Assert.Equal(2, h.Counters["perSource"]!.Answered);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{ "maxPartitions": 5 }""")]
    public void NoRule_AddsNoMiddleware(string json)
    {
        using var h = LimiterHarness.Create(json);

        Assert.Empty(h.Steps);
        Assert.Empty(h.Counters.Rules);
        for (int i = 0; i < 1000; i++)
        {
            h.SendNow(h.Request());
        }

        Assert.Equal(1000, h.Passed.Count);
    }

    [Fact]
    public void Rules_AddOneStepNamedRateLimits()
    {
        using var h = LimiterHarness.Create("""{ "total": { "permitsPerSecond": 5 }, "perBodyType": { "*": { "permitsPerSecond": 5 } } }""");

        Assert.Equal(["rateLimits"], h.Steps);
        Assert.Equal(["total", "perBodyType:*"], h.Counters.Rules.Select(r => r.Rule));
    }

    [Fact]
    public void PassingPacket_AllocatesNothing()
    {
        using var h = LimiterHarness.Create("""
            {
              "total": { "permitsPerSecond": 1000000000, "burst": 1000000000 },
              "perSource": { "permitsPerSecond": 1000000000, "burst": 1000000000 },
              "perBodyType": { "echo": { "permitsPerSecond": 1000000000, "burst": 1000000000 }, "*": { "permitsPerSecond": 1000000000, "burst": 1000000000 } }
            }
            """);
        var middleware = new RateLimitMiddleware(h.Limiter, LimiterHarness.Self, NullLogger.Instance);
        PacketDelegate next = static _ => ValueTask.CompletedTask;
        using var echo = new PacketContext(Packet.Create(h.Request("echo", source: 2), []), PacketOrigin.Network, new Ident(2), h.Replier);
        using var other = new PacketContext(Packet.Create(LimiterHarness.Notify("other", source: 3), []), PacketOrigin.Host, new Ident(3), h.Replier);
        Run(100); // the partitions are made on first use

        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(0, h.Counters.Refused);

        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                Assert.True(middleware.InvokeAsync(echo, next).IsCompletedSuccessfully);
                Assert.True(middleware.InvokeAsync(other, next).IsCompletedSuccessfully);
            }
        }
    }
}
