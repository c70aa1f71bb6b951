using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kaze.Core;
using Kaze.Host;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.TestHost;

/// <summary>
/// A host for the end-to-end tests of <c>kaze run</c>. Each mode prints its findings on stdout as
/// one line per fact, <c>name key=value ...</c>, for the test to parse; exit code 0 means the mode
/// saw what it expects, 1 that it did not (the lines say what it saw), 2 a usage error.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: kaze run -- dotnet Kaze.TestHost.dll <mode> [args]
          serve-until-exit               ignore SIGTERM/SIGINT/SIGQUIT/SIGHUP; print "serve ready" once
                                         connected; exit 0 only on the sidecar's kaze.exit request
          hang <timeout-ms>              call this host's own `hang` handler, which never completes,
                                         through the sidecar: expect RetCode.Timeout
          raw-timeout <timeout-ms>       the same over the raw channel (no Kaze.Host client): a request to
                                         itself left unanswered gets exactly one TIMEOUT from the sidecar,
                                         and the host's late answer is dropped
          garbage                        write malformed records into the channel, then a valid request
                                         to itself: expect its response
        """;

    // Long enough for a loaded 2-core machine; a test fails on its own deadline well before this.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static async Task<int> Main(string[] args)
    {
        try
        {
            return args switch
            {
                ["serve-until-exit"] => await ServeUntilExitAsync(),
                ["serve-plain"] => await ServePlainAsync(),
                ["hang", string timeout] when TryMilliseconds(timeout, out uint ms) => await HangAsync(ms),
                ["raw-timeout", string timeout] when TryMilliseconds(timeout, out uint ms) => RawTimeout(ms),
                ["garbage"] => Garbage(),
                _ => UsageError(),
            };
        }
        catch (Exception e) when (e is KazeHostException or ChannelException)
        {
            Console.Error.WriteLine("Kaze.TestHost: " + e.Message);
            return 2;
        }
    }

    /// <summary>Stays up through every stop signal; leaves only on the exit request (or the sidecar's loss).</summary>
    private static async Task<int> ServeUntilExitAsync()
    {
        int signals = 0;
        PosixSignalRegistration[] ignored =
        [
            .. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP }.Select(signal =>
                PosixSignalRegistration.Create(signal, context =>
                {
                    context.Cancel = true;
                    Interlocked.Increment(ref signals);
                })),
        ];

        try
        {
            await using KazeClient client = KazeClient.ConnectFromEnvironment();
            var exitRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using CancellationTokenRegistration onExit = client.ExitRequested.Register(() => exitRequested.TrySetResult());
            client.Start();
            Print($"serve ready pid={Environment.ProcessId}");

            Task first = await Task.WhenAny(exitRequested.Task, client.Completion, Task.Delay(Patience));
            if (first == exitRequested.Task)
            {
                Print($"serve exit-requested=true signals={Volatile.Read(ref signals)}");
                return 0;
            }

            Print($"serve exit-requested=false channel={(client.Completion.IsCompleted ? client.Completion.Result.ToString() : "open")} signals={Volatile.Read(ref signals)}");
            return 1;
        }
        finally
        {
            foreach (PosixSignalRegistration registration in ignored)
            {
                registration.Dispose();
            }
        }
    }

    /// <summary>
    /// A plain KazeClient host with no signal handling of its own: it leaves when ExitRequested
    /// fires, which SIGTERM and SIGINT do through the client (and kaze.exit, and the sidecar's loss).
    /// </summary>
    private static async Task<int> ServePlainAsync()
    {
        await using KazeClient client = KazeClient.ConnectFromEnvironment();
        var exitRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration onExit = client.ExitRequested.Register(() => exitRequested.TrySetResult());
        client.Start();
        Print($"plain ready pid={Environment.ProcessId}");
        Task first = await Task.WhenAny(exitRequested.Task, Task.Delay(Patience));
        Print($"plain exit-requested={first == exitRequested.Task} channel={(client.Completion.IsCompleted ? client.Completion.Result.ToString() : "open")}");
        return first == exitRequested.Task ? 0 : 1;
    }

    /// <summary>
    /// A call to this host's own handler that never completes. The caller must get Timeout at about
    /// the timeout, from the sidecar's tracker or from the client's own timer, whichever comes first.
    /// </summary>
    private static async Task<int> HangAsync(uint timeoutMs)
    {
        using var logs = new EventCountingLoggerFactory();
        await using KazeClient client = KazeClient.ConnectFromEnvironment(loggerFactory: logs);
        client.AddHandler("hang", static async (request, ct) =>
        {
            // Never answers; the token is cancelled only when the client is disposed at the end.
            await Task.Delay(Timeout.Infinite, ct);
            return KazeReply.Ok(request.Body);
        });
        client.AddHandler("ping", static (request, _) => ValueTask.FromResult(KazeReply.Ok(request.Body, "pong")));
        client.Start();

        long start = Stopwatch.GetTimestamp();
        KazeResponse hang = await client.CallAsync(client.LocalIdent, "hang", "never answered"u8.ToArray(), TimeSpan.FromMilliseconds(timeoutMs));
        double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Print(string.Create(CultureInfo.InvariantCulture, $"hang code={hang.Code} elapsed_ms={elapsed:0.0} local={hang.IsLocal}"));

        // A second call through the same rings: once its answer is here, anything the sidecar sent
        // for the first call before it is here too.
        KazeResponse ping = await client.CallAsync(client.LocalIdent, "ping", "after"u8.ToArray(), Patience);
        Print($"ping code={ping.Code}");
        Print($"late responses={logs.Count(HostLateResponseEventId)}");
        return hang.Code == RetCode.Timeout && ping.IsOk ? 0 : 1;
    }

    /// <summary>
    /// The tracker on the wire: request 1 to this host, left unanswered, must be answered TIMEOUT by
    /// the sidecar (a host-side timer plays no part here). The host's own answer, sent after that,
    /// must not reach it; request 2 then fences the ring: every answer to request 1 comes before its.
    /// </summary>
    private static int RawTimeout(uint timeoutMs)
    {
        SidecarEndpoint endpoint = SidecarEndpoint.FromEnvironment();
        using ShmChannel channel = ShmChannel.Open(endpoint.ChannelName);
        const uint Hung = 1;
        const uint Fence = 2;

        long start = Stopwatch.GetTimestamp();
        Send(channel, Hdr.CreateRequest(Ident.Any, "hang", Hung, timeoutMs), "never answered in time"u8);
        var answers = new List<string>();
        Hdr? heldRequest = null;
        double timeoutAt = -1;
        double requestAt = -1;
        RetCode fenceCode = (RetCode)uint.MaxValue;
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (fenceCode == (RetCode)uint.MaxValue)
        {
            if (!TryReceive(channel, deadline, out Hdr? header, out string failure))
            {
                Print($"raw failed={failure} answers-to-1={answers.Count}");
                return 1;
            }

            if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Req && header.Req == Hung)
            {
                heldRequest = header; // answered only after the sidecar has given up on it
                requestAt = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            else if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Req && header.Req == Fence)
            {
                Send(channel, Hdr.CreateResponse(header, RetCode.Ok, "pong"), default);
            }
            else if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp && header.Rsp == Hung)
            {
                answers.Add(((RetCode)header.RetCode).ToString());
                if (answers.Count == 1)
                {
                    timeoutAt = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    Print(string.Create(CultureInfo.InvariantCulture, $"timeout-answer code={(RetCode)header.RetCode} elapsed_ms={timeoutAt:0.0} src={new Ident(header.SrcIdent)} request-seen-ms={requestAt:0.0}"));
                    if (heldRequest is not null)
                    {
                        Send(channel, Hdr.CreateResponse(heldRequest, RetCode.Ok, "late"), "too late"u8);
                    }

                    Send(channel, Hdr.CreateRequest(Ident.Any, "ping", Fence, (uint)Patience.TotalMilliseconds), "fence"u8);
                }
            }
            else if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp && header.Rsp == Fence)
            {
                fenceCode = (RetCode)header.RetCode;
            }
        }

        Print($"answers-to-1 count={answers.Count} codes={string.Join(',', answers)}");
        Print($"fence code={fenceCode}");
        return answers is [nameof(RetCode.Timeout)] && fenceCode == RetCode.Ok ? 0 : 1;
    }

    /// <summary>Malformed records first, then a valid request to this host, which must still be answered.</summary>
    private static int Garbage()
    {
        SidecarEndpoint endpoint = SidecarEndpoint.FromEnvironment();
        using ShmChannel channel = ShmChannel.Open(endpoint.ChannelName);

        // Random bytes whose first word, read as the header length, is beyond the record.
        byte[] random = new byte[64];
        new Random(20240611).NextBytes(random);
        BinaryPrimitives.WriteUInt32LittleEndian(random, BinaryPrimitives.ReadUInt32LittleEndian(random) | 0x8000_0000);

        // A header length that claims far more than the record holds.
        byte[] beyond = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(beyond, 1000);

        // A record too short to hold even the header length.
        byte[] truncated = [0x05, 0x00, 0x00];

        // A header length that fits, over bytes that are not a protobuf kaze.Hdr.
        byte[] notProtobuf = [0x04, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF];

        foreach ((string name, byte[] record) in new[] { ("random", random), ("beyond", beyond), ("truncated", truncated), ("not-protobuf", notProtobuf) })
        {
            RingFraming.TryDecode(record, out _, out _, out DecodeError error);
            Print($"garbage name={name} length={record.Length} expected={error}");
            if (error == DecodeError.None || channel.Writer.Write(record, Patience) != ChannelStatus.Ok)
            {
                Print($"garbage name={name} not-written");
                return 1;
            }
        }

        const uint Sequence = 7;
        Send(channel, Hdr.CreateRequest(Ident.Any, "ping", Sequence, (uint)Patience.TotalMilliseconds), "still working?"u8);
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (true)
        {
            if (!TryReceive(channel, deadline, out Hdr? header, out string failure))
            {
                Print($"valid-request answered=false failed={failure}");
                return 1;
            }

            if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Req && header.Req == Sequence)
            {
                Send(channel, Hdr.CreateResponse(header, RetCode.Ok, "pong"), "yes"u8);
            }
            else if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp && header.Rsp == Sequence)
            {
                Print($"valid-request answered=true code={(RetCode)header.RetCode}");
                return header.RetCode == (uint)RetCode.Ok ? 0 : 1;
            }
        }
    }

    private static void Send(ShmChannel channel, Hdr header, ReadOnlySpan<byte> body)
    {
        byte[] payload = new byte[RingFraming.GetPayloadSize(header, body.Length)];
        RingFraming.Write(payload, header, body);
        ChannelStatus status = channel.Writer.Write(payload, Patience);
        if (status != ChannelStatus.Ok)
        {
            throw new ChannelException($"writing {header.BodyType} to the sidecar: {status}");
        }
    }

    private static bool TryReceive(ShmChannel channel, long deadline, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Hdr? header, out string failure)
    {
        header = null;
        while (true)
        {
            TimeSpan left = TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
            ChannelStatus status = channel.Reader.Read(out ReadOnlySpan<byte> record, left);
            if (status != ChannelStatus.Ok)
            {
                failure = status.ToString();
                return false;
            }

            if (RingFraming.TryDecode(record, out header, out _, out DecodeError error))
            {
                channel.Reader.Release(); // the header is a copy; the body is not used
                failure = "";
                return true;
            }

            channel.Reader.Release();
            Print($"malformed-from-sidecar reason={error}");
        }
    }

    private static bool TryMilliseconds(string text, out uint milliseconds) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out milliseconds) && milliseconds > 0;

    private static void Print(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static int UsageError()
    {
        Console.Error.WriteLine(Usage);
        return 2;
    }

    // Kaze.Host's HostLog.LateResponse.
    private const int HostLateResponseEventId = 305;

    /// <summary>Counts log events by id; writes nothing.</summary>
    private sealed class EventCountingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> _counts = new();

        public int Count(int eventId) => _counts.GetValueOrDefault(eventId);

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _counts.AddOrUpdate(eventId.Id, 1, static (_, n) => n + 1);

        public void Dispose()
        {
        }
    }
}
