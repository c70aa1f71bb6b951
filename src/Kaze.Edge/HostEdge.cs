using Kaze.Core;
using Kaze.Core.Diagnostics;
using Kaze.Core.Waiting;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Edge;

/// <summary>
/// The sidecar's end of the channel: creates it, reads the host's packets on its own thread and
/// hands them on, and writes packets to the host — directly when the ring has room, through a
/// bounded queue and a drainer thread when it does not, so nothing that sends to the host ever
/// waits for the host to read.
/// </summary>
public sealed class HostEdge : IAsyncDisposable
{
    private readonly ShmChannel _channel;
    private readonly EdgeOptions _options;
    private readonly ILogger _logger;
    private readonly EdgeCounters _counters = new();
    private readonly TaskCompletionSource<ChannelStatus> _hostEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // How long DisposeAsync waits for the reader and the drainer before leaving the file mapped.
    private static readonly TimeSpan ThreadStopTimeout = TimeSpan.FromSeconds(5);

    // One per reason: a host sending garbage, or never reading, gets a few lines a second, not one per packet.
    private readonly LogRateLimiter _malformedLog = new();
    private readonly LogRateLimiter _tooLargeLog = new();
    private readonly LogRateLimiter _queueFullLog = new();
    private readonly LogRateLimiter _handlerLog = new();

    // Guards the ring writer and _overflow: the ring has a single producer at a time. While the
    // overflow queue is not empty only the drainer writes to the ring, which keeps packet order.
    private readonly Lock _writeLock = new();
    // Each queued packet with its payload size, computed once when it was sent.
    private readonly Queue<(Packet Packet, int Size)> _overflow = new();
    private readonly SemaphoreSlim _drainSignal = new(0, int.MaxValue);
    private Thread? _reader;
    private Thread? _drainer;
    private volatile bool _stopping;
    private Action<Packet>? _onPacket;
    private Action? _beginBurst;
    private Action? _endBurst;

    private HostEdge(ShmChannel channel, EdgeOptions options, ILogger logger)
    {
        _channel = channel;
        _options = options;
        _logger = logger;
    }

    /// <summary>The channel's name, for KAZE_CHANNEL.</summary>
    public string ChannelName => _channel.Name;

    /// <summary>The channel's file.</summary>
    public string FilePath => _channel.FilePath;

    /// <summary>Counters for metrics.</summary>
    public EdgeCounters Counters => _counters;

    /// <summary>Bytes waiting in the ring to the host, and in the ring from it.</summary>
    public (long ToHost, long FromHost) RingFill => (_channel.Writer.UsedBytes, _channel.Reader.UsedBytes);

    /// <summary>Capacities of the ring to the host and of the ring from it.</summary>
    public (int ToHost, int FromHost) RingCapacity => (_channel.Writer.Capacity, _channel.Reader.Capacity);

    /// <summary>Waits that had to sleep in the kernel: reading from the host, writing to it.</summary>
    public (long Read, long Write) BlockedWaits => (_channel.Reader.BlockedWaits, _channel.Writer.BlockedWaits);

    /// <summary>The pid the host wrote into the channel file when it opened its end; 0 while no host has attached (or once the edge is disposed). For readiness.</summary>
    public int HostPid => _channel.PeerPid;

    /// <summary>Completes when the host's end is gone: Closed (it closed), PeerGone (it died), Corrupt, or Closed on shutdown.</summary>
    public Task<ChannelStatus> HostEnded => _hostEnded.Task;

    /// <summary>Creates the channel file (see <see cref="ShmChannel.Create"/> for the rules).</summary>
    public static HostEdge Create(string channelName, EdgeOptions? options = null, ILogger? logger = null)
    {
        options ??= new EdgeOptions();
        logger ??= NullLogger.Instance;
        ShmChannel channel = ShmChannel.Create(channelName, options.Channel);
        EdgeLog.ChannelCreated(logger, channel.Name, channel.FilePath);
        return new HostEdge(channel, options, logger);
    }

    /// <summary>
    /// Starts reading the host's packets. <paramref name="onPacket"/> runs on the edge's reader
    /// thread, owns the packet it gets, and must not block.
    /// </summary>
    public void Start(Action<Packet> onPacket) => Start(onPacket, null, null);

    /// <summary>
    /// Starts reading the host's packets, with a burst around each run of packets the reader
    /// finds waiting: <paramref name="beginBurst"/> before it hands on the first,
    /// <paramref name="endBurst"/> after the last (before the reader waits for more, and at least
    /// every <see cref="EdgeOptions.ReleaseBatch"/> packets). A sidecar opens a batch of network
    /// sends there, so a host that writes many packets at once costs one system call per peer,
    /// not one per packet. All three run on the reader thread and must not block.
    /// </summary>
    public void Start(Action<Packet> onPacket, Action? beginBurst, Action? endBurst) => Start(onPacket, beginBurst, endBurst, null);

    /// <summary>
    /// As <see cref="Start(Action{Packet}, Action?, Action?)"/>, and the reader thread polls
    /// <paramref name="companion"/> while it waits for the host (see <see cref="IReaderCompanion"/>);
    /// it tells the companion it sleeps before it does, and when it stops for good.
    /// </summary>
    internal void Start(Action<Packet> onPacket, Action? beginBurst, Action? endBurst, IReaderCompanion? companion)
    {
        ArgumentNullException.ThrowIfNull(onPacket);
        if (_reader is not null)
        {
            throw new InvalidOperationException("The edge is already started.");
        }

        if ((beginBurst is null) != (endBurst is null))
        {
            throw new ArgumentException("Give both burst callbacks or neither.", nameof(endBurst));
        }

        _onPacket = onPacket;
        _beginBurst = beginBurst;
        _endBurst = endBurst;
        _channel.Reader.Companion = companion;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "kaze-edge-read" };
        _drainer = new Thread(DrainLoop) { IsBackground = true, Name = "kaze-edge-drain" };
        _reader.Start();
        _drainer.Start();
    }

    /// <summary>
    /// Sends <paramref name="packet"/> to the host, taking ownership of it. Never waits: if the
    /// ring is full the packet is queued; false if it had to be dropped (too large, queue full,
    /// host gone), which is counted and logged.
    /// </summary>
    public bool TrySend(Packet packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        int size = RingFraming.GetPayloadSize(packet.Header, packet.BodyLength);
        lock (_writeLock)
        {
            if (_overflow.Count == 0)
            {
                ChannelStatus status = TryWrite(packet, size);
                if (status != ChannelStatus.Full)
                {
                    return status == ChannelStatus.Ok;
                }
            }

            if (_overflow.Count >= _options.MaxQueuedPackets)
            {
                long dropped = Interlocked.Increment(ref _counters.DroppedQueueFull);
                if (_queueFullLog.TryAcquire(out long suppressed))
                {
                    EdgeLog.HostQueueFull(_logger, _overflow.Count, dropped, SuppressedText(suppressed));
                }

                packet.Dispose();
                return false;
            }

            _overflow.Enqueue((packet, size));
            Interlocked.Increment(ref _counters.QueuedForHost);
            if (_overflow.Count == 1)
            {
                _drainSignal.Release();
            }

            return true;
        }
    }

    /// <summary>Closes the channel (the host reads what was sent, then sees it closed), stops the threads and deletes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _channel.Close();
        _drainSignal.Release();
        bool stopped = await Task.Run(() =>
        {
            bool reader = _reader?.Join(ThreadStopTimeout) ?? true;
            bool drainer = _drainer?.Join(ThreadStopTimeout) ?? true;
            return reader && drainer;
        }).ConfigureAwait(false);
        lock (_writeLock)
        {
            while (_overflow.TryDequeue(out (Packet Packet, int) queued))
            {
                queued.Packet.Dispose();
                Interlocked.Increment(ref _counters.DroppedHostGone);
            }
        }

        if (stopped)
        {
            _channel.Dispose();
            _drainSignal.Dispose();
        }
        else
        {
            // A thread still inside (a packet handler that hangs) may touch the mapping: never pull
            // it from under it. The file is deleted all the same; the mapping goes with the process.
            EdgeLog.ThreadsDidNotStop(_logger, _channel.Name, ThreadStopTimeout.TotalSeconds);
            _channel.Abandon();
        }

        LogSuppressed();
        _hostEnded.TrySetResult(ChannelStatus.Closed);
    }

    private static string SuppressedText(long suppressed) =>
        suppressed > 0 ? $", {suppressed} more not logged before this one" : "";

    /// <summary>Says how many events of each kind went unlogged since their last line (at the end, so no count is lost).</summary>
    private void LogSuppressed()
    {
        foreach ((LogRateLimiter limiter, string what) in new[]
        {
            (_malformedLog, "malformed packets from the host"),
            (_tooLargeLog, "packets too large for the host's ring"),
            (_queueFullLog, "packets dropped for a slow host"),
            (_handlerLog, "packet handler failures"),
        })
        {
            if (limiter.TakeSuppressed() is > 0 and long suppressed)
            {
                EdgeLog.Suppressed(_logger, suppressed, what, _channel.Name);
            }
        }
    }

    // Caller holds _writeLock. Ok, Full (nothing done), or a drop (packet disposed).
    private ChannelStatus TryWrite(Packet packet, int size)
    {
        RingWriter writer = _channel.Writer;
        ChannelStatus status = writer.TryClaim(size, out Span<byte> span);
        switch (status)
        {
            case ChannelStatus.Ok:
                try
                {
                    RingFraming.Write(span, packet.Header, packet.BodySpan, size);
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or ArgumentException)
                {
                    // The header no longer encodes to the size it was given (changed after sending:
                    // a bug). Give the claim back, or the ring stays claimed and nothing more
                    // reaches the host; drop the packet.
                    writer.Abandon();
                    Interlocked.Increment(ref _counters.DroppedTooLarge);
                    EdgeLog.WriteFailed(_logger, e, packet.Header.BodyType);
                    packet.Dispose();
                    return ChannelStatus.TooLarge;
                }

                writer.Commit(size);
                _counters.PacketsToHost++;
                _counters.BytesToHost += size;
                packet.Dispose();
                return status;
            case ChannelStatus.Full:
                return status;
            case ChannelStatus.TooLarge:
                long tooLarge = Interlocked.Increment(ref _counters.DroppedTooLarge);
                if (_tooLargeLog.TryAcquire(out long suppressed))
                {
                    EdgeLog.TooLargeForHost(_logger, size, writer.MaxRecordLength, tooLarge, SuppressedText(suppressed));
                }

                packet.Dispose();
                return status;
            default:
                Interlocked.Increment(ref _counters.DroppedHostGone);
                packet.Dispose();
                return status;
        }
    }

    private void ReadLoop()
    {
        RingReader reader = _channel.Reader;
        IReaderCompanion? companion = reader.Companion;
        Action<Packet> onPacket = _onPacket!;
        int batch = Math.Max(1, _options.ReleaseBatch);
        int unreleased = 0;
        // Packets handed on in the open burst; -1 when none is open (or bursts are not used).
        int burst = -1;
        bool bursts = _beginBurst is not null;
        ChannelStatus status;
        while (true)
        {
            status = reader.TryRead(out ReadOnlySpan<byte> record);
            if (status == ChannelStatus.Ok)
            {
                if (bursts && burst < 0)
                {
                    burst = BeginBurst();
                }

                _counters.PacketsFromHost++;
                _counters.BytesFromHost += record.Length;
                if (RingFraming.TryDecodePacket(record, out Packet? packet, out DecodeError error))
                {
                    Dispatch(onPacket, packet);
                }
                else
                {
                    long malformed = ++_counters.DecodeErrors;
                    if (_malformedLog.TryAcquire(out long suppressed))
                    {
                        EdgeLog.MalformedFromHost(_logger, record.Length, error.ToMessage(), malformed, SuppressedText(suppressed));
                    }
                }

                // The packet holds a copy of the body, so the record can go back to the host.
                if (++unreleased >= batch)
                {
                    reader.Release();
                    unreleased = 0;
                }

                if (burst >= 0 && ++burst >= batch)
                {
                    burst = EndBurst();
                }

                // A long run from the host: the companion's work gets a turn between batches.
                if (unreleased == 0 && companion is not null)
                {
                    companion.Poll();
                }

                continue;
            }

            reader.Release();
            unreleased = 0;
            if (burst >= 0)
            {
                burst = EndBurst();
            }

            if (status == ChannelStatus.Empty)
            {
                status = reader.WaitToRead(Timeout.InfiniteTimeSpan);
                if (status == ChannelStatus.Ok)
                {
                    continue;
                }
            }

            break;
        }

        // Whatever the companion took on is handed back: this thread polls no more.
        companion?.Sleeping();
        if (status == ChannelStatus.Corrupt)
        {
            // One line, naming the field, its value and what was allowed; the ring already closed the channel.
            EdgeLog.Corrupt(_logger, _channel.Name, _channel.Corruption ?? "the ring holds impossible positions");
            _channel.Close();
        }

        if (!_stopping)
        {
            EdgeLog.HostEnded(_logger, _channel.Name, status);
        }

        LogSuppressed();

        _hostEnded.TrySetResult(status);
    }

    private int BeginBurst()
    {
        try
        {
            _beginBurst!();
        }
        catch (Exception e)
        {
            EdgeLog.BurstFailed(_logger, e);
        }

        return 0;
    }

    private int EndBurst()
    {
        try
        {
            _endBurst!();
        }
        catch (Exception e)
        {
            EdgeLog.BurstFailed(_logger, e);
        }

        return -1;
    }

    private void Dispatch(Action<Packet> onPacket, Packet packet)
    {
        try
        {
            onPacket(packet);
        }
        catch (Exception e)
        {
            if (_handlerLog.TryAcquire(out long suppressed))
            {
                EdgeLog.HandlerFailed(_logger, e, packet.Header.BodyType, SuppressedText(suppressed));
            }

            packet.Dispose();
        }
    }

    private void DrainLoop()
    {
        RingWriter writer = _channel.Writer;
        while (!_stopping)
        {
            _drainSignal.Wait();
            while (!_stopping)
            {
                int size;
                lock (_writeLock)
                {
                    if (!_overflow.TryPeek(out (Packet Packet, int Size) queued))
                    {
                        break;
                    }

                    size = queued.Size;
                    if (TryWrite(queued.Packet, size) != ChannelStatus.Full)
                    {
                        _overflow.Dequeue();
                        Interlocked.Decrement(ref _counters.QueuedForHost);
                        continue;
                    }

                    writer.Publish();
                }

                // Outside the lock: senders queue behind us while the overflow is not empty, so
                // this thread is the ring's only producer for the duration of the wait.
                ChannelStatus status = writer.Claim(size, out _, TimeSpan.FromMilliseconds(200));
                if (status == ChannelStatus.Ok)
                {
                    writer.Abandon();
                }
                else if (status is not (ChannelStatus.TimedOut or ChannelStatus.Full))
                {
                    // Closed or the host is gone: drop what waits.
                    lock (_writeLock)
                    {
                        while (_overflow.TryDequeue(out (Packet Packet, int) dropped))
                        {
                            dropped.Packet.Dispose();
                            Interlocked.Increment(ref _counters.DroppedHostGone);
                            Interlocked.Decrement(ref _counters.QueuedForHost);
                        }
                    }

                    break;
                }
            }
        }
    }
}
