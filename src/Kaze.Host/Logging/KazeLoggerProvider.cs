using System.Collections.Concurrent;
using System.Threading.Channels;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Logging;

/// <summary>
/// Ships the app's log records to its sidecar, which writes them through its own sinks (stderr,
/// file, JSON) tagged with this node's ident: one <c>log</c> notify (<see cref="ControlBodyTypes.Log"/>)
/// per record, addressed to this node, with a UTF-8 JSON body (docs/host-protocol.md, "Log records").
/// </summary>
/// <remarks>
/// <para>
/// Logging never waits and never throws: a record is formatted on the caller's thread and put on
/// a bounded queue (<see cref="KazeLoggerOptions.QueueCapacity"/>); one sender moves the queue into
/// the channel. A record is dropped, and counted in <see cref="DroppedCount"/>, when the queue is
/// full; when the channel's ring is full and packets already wait for it (the app's own traffic
/// comes first); when the record is too large for the channel; or when the channel is gone.
/// </para>
/// <para>
/// The provider never logs its own failures (they would come back through it): it counts them.
/// A sidecar without log forwarding routes a <c>log</c> notify addressed to this node back to this
/// host; the provider registers a handler that discards those quietly (unless the app has a
/// <c>log</c> handler of its own), since "no handler" would itself be logged, sent, and returned.
/// </para>
/// <para>
/// Records logged before <see cref="Attach"/> wait in the queue. With the Generic Host,
/// <c>logging.AddKaze()</c> or <c>services.AddKazeHost().AddLogForwarding()</c> attach the
/// <see cref="KazeClient"/> once the application has started, and flush the queue when it stops.
/// </para>
/// </remarks>
[ProviderAlias("Kaze")]
public sealed class KazeLoggerProvider : ILoggerProvider
{
    // How long Dispose lets the sender hand what is queued to a live channel.
    private static readonly TimeSpan DisposeFlushTimeout = TimeSpan.FromSeconds(1);

    // Set on the sender's thread while it is inside the client: a record logged there is dropped.
    [ThreadStatic]
    private static bool t_sending;

    private readonly KazeLoggerOptions _options;
    private readonly Channel<LogRecord> _queue;
    private readonly ConcurrentDictionary<string, KazeLogger> _loggers = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<KazeClient> _client = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Cancelled when Dispose gives up waiting for the sender.
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _sender;
    // Guards _idle.
    private readonly Lock _idleLock = new();
    private TaskCompletionSource? _idle;
    // Records accepted and not yet sent or dropped.
    private int _pending;
    private long _sent;
    private long _dropped;
    private int _disposed;

    /// <summary>Creates a provider whose records wait until a client is attached (<see cref="Attach"/>).</summary>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public KazeLoggerProvider(KazeLoggerOptions? options = null)
    {
        options ??= new KazeLoggerOptions();
        options.Validate();
        _options = options;
        _queue = Channel.CreateBounded<LogRecord>(new BoundedChannelOptions(options.QueueCapacity)
        {
            // With Wait, TryWrite refuses instead of evicting: the record being logged is the one dropped.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>Creates a provider that sends through <paramref name="client"/>.</summary>
    /// <param name="client">The connected client (started or not: notifies need no reader).</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public KazeLoggerProvider(KazeClient client, KazeLoggerOptions? options = null)
        : this(options) => Attach(client);

    /// <summary>Records handed to the channel so far.</summary>
    public long SentCount => Interlocked.Read(ref _sent);

    /// <summary>Records dropped so far: queue full, ring full with a backlog, too large, channel gone, or logged by the sender itself.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Whether a client is attached.</summary>
    public bool IsAttached => _client.Task.IsCompletedSuccessfully;

    internal static bool IsSendingOnThisThread => t_sending;

    internal bool IsAccepting => Volatile.Read(ref _disposed) == 0;

    internal int MaxMessageLength => _options.MaxMessageLength;

    /// <summary>Starts sending through <paramref name="client"/>, beginning with the records queued so far.</summary>
    /// <param name="client">The connected client.</param>
    /// <exception cref="InvalidOperationException">A client is already attached.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public void Attach(KazeClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_client.TrySetResult(client))
        {
            throw new InvalidOperationException("A client is already attached to this KazeLoggerProvider.");
        }

        try
        {
            // A sidecar without log forwarding sends log notifies addressed to this node back here.
            client.AddHandler(ControlBodyTypes.Log, static (_, _) => ValueTask.FromResult(default(KazeReply)));
        }
        catch (InvalidOperationException)
        {
            // The app handles `log` notifies itself.
        }
    }

    /// <summary>
    /// Completes when every record logged before the call has been handed to the channel or
    /// dropped. Waits for <see cref="Attach"/> if no client is attached yet.
    /// </summary>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>A task that completes when the queue has drained.</returns>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Task idle;
        lock (_idleLock)
        {
            if (Volatile.Read(ref _pending) == 0)
            {
                return;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = _idle.Task;
        }

        await idle.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) =>
        _loggers.GetOrAdd(categoryName ?? "", static (name, self) => new KazeLogger(name, self), this);

    /// <summary>
    /// Stops accepting records, gives the sender up to a second to hand what is queued to the
    /// channel, and drops (counts) the rest. The client is the caller's and is left open.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        // Never attached: nothing can be sent; the sender drops the queue and ends.
        _client.TrySetCanceled();
        if (!_sender.Wait(DisposeFlushTimeout))
        {
            _abandon.Cancel();
            _sender.Wait(DisposeFlushTimeout);
        }

        if (_sender.IsCompleted)
        {
            _abandon.Dispose();
        }
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void Enqueue(in LogRecord record)
    {
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(record))
        {
            // Full, or disposed meanwhile.
            Interlocked.Increment(ref _dropped);
            Done();
        }
    }

    private void Done()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            lock (_idleLock)
            {
                _idle?.TrySetResult();
                _idle = null;
            }
        }
    }

    private async Task SendLoopAsync()
    {
        KazeClient? client = null;
        try
        {
            client = await _client.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposed before a client was attached.
        }

        ChannelReader<LogRecord> reader = _queue.Reader;
        var body = new LogRecordBody();
        bool gone = client is null;
        try
        {
            while (await reader.WaitToReadAsync(_abandon.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out LogRecord record))
                {
                    if (gone)
                    {
                        Interlocked.Increment(ref _dropped);
                    }
                    else
                    {
                        SendOutcome outcome = await SendAsync(client!, body, record).ConfigureAwait(false);
                        Interlocked.Increment(ref outcome == SendOutcome.Sent ? ref _sent : ref _dropped);
                        gone = outcome == SendOutcome.ChannelGone;
                    }

                    Done();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Dispose gave up waiting.
        }

        while (reader.TryRead(out _))
        {
            Interlocked.Increment(ref _dropped);
            Done();
        }
    }

    private async ValueTask<SendOutcome> SendAsync(KazeClient client, LogRecordBody body, LogRecord record)
    {
        if (client.QueuedPacketCount > 0)
        {
            // The ring is full and the app's packets wait for it: a log record must not add to that.
            return SendOutcome.Dropped;
        }

        ValueTask<bool> sending;
        t_sending = true;
        try
        {
            sending = client.SendAsync(client.LocalIdent, ControlBodyTypes.Log, body.Encode(record), cancellationToken: _abandon.Token);
        }
        catch (ArgumentException)
        {
            // Larger than the channel carries.
            return SendOutcome.Dropped;
        }
        catch (ObjectDisposedException)
        {
            return SendOutcome.ChannelGone;
        }
        finally
        {
            t_sending = false;
        }

        try
        {
            // Rarely pending: only when the client's queue filled between the check above and the send.
            return await sending.ConfigureAwait(false) ? SendOutcome.Sent : SendOutcome.ChannelGone;
        }
        catch (OperationCanceledException)
        {
            return SendOutcome.Dropped;
        }
    }

    private enum SendOutcome
    {
        Sent,
        Dropped,
        ChannelGone,
    }
}
