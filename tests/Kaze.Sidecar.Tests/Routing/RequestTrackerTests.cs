using Kaze.Protocol;
using Kaze.Service;
using Kaze.Sidecar.Routing;
using Kaze.Sidecar.Tests.RateLimiting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Sidecar.Tests.Routing;

public sealed class RequestTrackerTests : IAsyncLifetime
{
    private static readonly Ident Self = Ident.Parse("0.0.0.1");

    private readonly ManualClock _clock = new();
    private readonly RouterCounters _counters = new();
    private readonly List<Packet> _toHost = [];
    private readonly RequestTracker _tracker;

    public RequestTrackerTests()
    {
        _tracker = new RequestTracker(Self, _toHost.Add, _counters, NullLogger.Instance, _clock);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _tracker.DisposeAsync();
        foreach (Packet packet in _toHost)
        {
            packet.Dispose();
        }
    }

    [Fact]
    public async Task Request_WithoutResponse_AnsweredTimeoutAtItsDeadlineNotBefore()
    {
        await TrackAsync(sequence: 7, timeoutMs: 100);

        _clock.Advance(TimeSpan.FromMilliseconds(99));
        Assert.Empty(_toHost);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Packet answer = Assert.Single(_toHost);
        Assert.Equal(Hdr.RpcTypeOneofCase.Rsp, answer.Header.RpcTypeCase);
        Assert.Equal(7u, answer.Header.Rsp);
        Assert.Equal((uint)RetCode.Timeout, answer.Header.RetCode);
        Assert.Equal(Self.Value, answer.Header.SrcIdent);
        Assert.Equal(1, _counters.TimeoutsAnswered);
        Assert.Equal(0, _tracker.PendingCount);
    }

    [Fact]
    public async Task LaterRequestWithEarlierDeadline_TimesOutFirst_TheOtherAtItsOwnDeadline()
    {
        await TrackAsync(sequence: 1, timeoutMs: 1000);
        await TrackAsync(sequence: 2, timeoutMs: 100);

        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal([2u], _toHost.Select(p => p.Header.Rsp));

        _clock.Advance(TimeSpan.FromMilliseconds(899));
        Assert.Single(_toHost);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([2u, 1u], _toHost.Select(p => p.Header.Rsp));
    }

    [Fact]
    public async Task Response_EndsTracking_NoTimeoutLater_AndNoTimerLeftSet()
    {
        await TrackAsync(sequence: 3, timeoutMs: 100);

        Assert.True(_tracker.TryComplete(Response(3)));
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(_toHost);
        Assert.Equal(0, _clock.PendingTimers);
    }

    [Fact]
    public async Task ResponseAfterTimeout_IsLate_DroppedAndCounted()
    {
        await TrackAsync(sequence: 4, timeoutMs: 50);
        _clock.Advance(TimeSpan.FromMilliseconds(50));

        Assert.False(_tracker.TryComplete(Response(4)));
        Assert.Equal(1, _counters.LateResponses);
        Assert.Single(_toHost);
    }

    [Fact]
    public async Task ManyRequestsWithTheSameTimeout_SetTheTimerOnce_AndAllTimeOut()
    {
        for (uint sequence = 1; sequence <= 100; sequence++)
        {
            await TrackAsync(sequence, timeoutMs: 100);
            _clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.Equal(1, _clock.PendingTimers);
        _clock.Advance(TimeSpan.FromMilliseconds(200));

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (uint)i), _toHost.Select(p => p.Header.Rsp));
        Assert.Equal(0, _clock.PendingTimers);
    }

    [Fact]
    public async Task ManyAnsweredAndOnePending_OnlyThePendingOneTimesOut_AndTheQueueOfDeadlinesStaysSmall()
    {
        // Enough answered requests to make the tracker rebuild its queue of deadlines several times.
        for (uint sequence = 1; sequence <= 5_000; sequence++)
        {
            await TrackAsync(sequence, timeoutMs: 100);
            Assert.True(_tracker.TryComplete(Response(sequence)));
        }

        await TrackAsync(sequence: 9_999, timeoutMs: 100);
        Assert.True(_tracker.DeadlinesQueued <= 1_026, $"{_tracker.DeadlinesQueued} deadlines queued for 1 pending request");

        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal([9_999u], _toHost.Select(p => p.Header.Rsp));
        Assert.Equal(0, _tracker.PendingCount);
    }

    [Fact]
    public async Task SequenceTrackedAgainAfterItsAnswer_KeepsItsOwnDeadline()
    {
        await TrackAsync(sequence: 5, timeoutMs: 100);
        Assert.True(_tracker.TryComplete(Response(5)));
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        await TrackAsync(sequence: 5, timeoutMs: 100);

        // The first request's deadline passes: the second is not due yet.
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        Assert.Empty(_toHost);
        Assert.Equal(1, _tracker.PendingCount);

        _clock.Advance(TimeSpan.FromMilliseconds(50));
        Assert.Equal([5u], _toHost.Select(p => p.Header.Rsp));
    }

    [Fact]
    public async Task Notify_IsNotTracked()
    {
        using var context = new PacketContext(Packet.CreateNotify(Ident.Any, "note", []), PacketOrigin.Host, Self, NullReplier.Instance);
        await _tracker.InvokeAsync(context, static _ => ValueTask.CompletedTask);

        Assert.Equal(0, _tracker.PendingCount);
        Assert.Equal(0, _clock.PendingTimers);
    }

    [Fact]
    public async Task RequestAfterDispose_PassesThroughWithoutThrowing()
    {
        await _tracker.DisposeAsync();

        await TrackAsync(sequence: 9, timeoutMs: 100);

        Assert.Equal(1, _tracker.PendingCount);
    }

    [Fact]
    public void LocalRequest_GetsUpperHalfSequence_AndItsAnswerGoesToItsOwnerNotTheHost()
    {
        var owner = new Answers();
        Hdr request = Hdr.CreateRequest(Ident.Parse("0.0.0.2"), "kaze.http.req", 0, 100);

        uint sequence = _tracker.TrackLocal(request, owner);

        Assert.Equal(RequestTracker.FirstLocalSequence, sequence);
        Assert.Equal(sequence, request.Req);
        Assert.Equal(Self.Value, request.SrcIdent);
        Assert.True(_tracker.TryComplete(Response(sequence), out IAnswerSink? found));
        Assert.Same(owner, found);
        Assert.False(_tracker.TryComplete(Response(sequence), out _));
    }

    [Fact]
    public void LocalRequest_TimesOut_ToItsOwner()
    {
        var owner = new Answers();
        uint sequence = _tracker.TrackLocal(Hdr.CreateRequest(Ident.Parse("0.0.0.2"), "kaze.http.req", 0, 100), owner);

        _clock.Advance(TimeSpan.FromMilliseconds(100));

        Packet answer = Assert.Single(owner.Received);
        Assert.Equal(sequence, answer.Header.Rsp);
        Assert.Equal((uint)RetCode.Timeout, answer.Header.RetCode);
        Assert.Empty(_toHost);
    }

    [Fact]
    public async Task LocalRequests_SkipSequencesInFlight_AndForgetFreesOne()
    {
        await TrackAsync(sequence: RequestTracker.FirstLocalSequence + 1, timeoutMs: 1000);
        var owner = new Answers();

        uint first = _tracker.TrackLocal(Hdr.CreateRequest(Self, "t", 0, 1000), owner);
        uint second = _tracker.TrackLocal(Hdr.CreateRequest(Self, "t", 0, 1000), owner);
        _tracker.Forget(first);

        Assert.Equal(RequestTracker.FirstLocalSequence, first);
        Assert.Equal(RequestTracker.FirstLocalSequence + 2, second);
        Assert.False(_tracker.TryComplete(Response(first), out _));
        Assert.Equal(2, _tracker.PendingCount);
    }

    [Fact]
    public async Task HostRequest_OnASequenceALocalRequestHolds_AnsweredResourceExhausted_NotSent()
    {
        var owner = new Answers();
        uint held = _tracker.TrackLocal(Hdr.CreateRequest(Self, "t", 0, 1000), owner);
        bool passedOn = false;
        using var context = new PacketContext(Packet.CreateRequest(Ident.Parse("0.0.0.2"), "echo", held, 100, []), PacketOrigin.Host, Self, NullReplier.Instance);

        await _tracker.InvokeAsync(context, _ =>
        {
            passedOn = true;
            return ValueTask.CompletedTask;
        });

        Assert.False(passedOn, "a host request on a held sequence was sent");
        Packet answer = Assert.Single(_toHost);
        Assert.Equal(held, answer.Header.Rsp);
        Assert.Equal((uint)RetCode.ResourceExhausted, answer.Header.RetCode);
        Assert.True(_tracker.TryComplete(Response(held), out IAnswerSink? found));
        Assert.Same(owner, found);
    }

    private async Task TrackAsync(uint sequence, uint timeoutMs)
    {
        bool passedOn = false;
        using var context = new PacketContext(Packet.CreateRequest(Ident.Any, "echo", sequence, timeoutMs, []), PacketOrigin.Host, Self, NullReplier.Instance);
        await _tracker.InvokeAsync(context, _ =>
        {
            passedOn = true;
            return ValueTask.CompletedTask;
        });
        Assert.True(passedOn, "the tracker did not pass the request on");
    }

    private static Hdr Response(uint sequence)
    {
        Hdr request = Hdr.CreateRequest(Self, "echo", sequence, 100);
        request.SrcIdent = Self.Value;
        return Hdr.CreateResponse(request, RetCode.Ok);
    }

    private sealed class Answers : IAnswerSink
    {
        public List<Packet> Received { get; } = [];

        public void Answer(Packet response) => Received.Add(response);
    }

    private sealed class NullReplier : IPacketReplier
    {
        public static readonly NullReplier Instance = new();

        public bool TrySend(Packet packet)
        {
            packet.Dispose();
            return true;
        }
    }
}
