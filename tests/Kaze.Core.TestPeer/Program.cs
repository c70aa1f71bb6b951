using System.Diagnostics;
using System.Globalization;
using Kaze.Core;
using Kaze.Core.TestPeer;

// The other process of Kaze.Core's cross-process tests. Each mode prints "ready <pid>" once it holds
// the channel, and its verdict on stdout ("ok ..." or "fail: ..."); exit code 0 means success,
// 1 a failed check, 2 a usage error. Modes that hold a channel keep it until stdin closes (or the
// test kills the process).
try
{
    return args switch
    {
        ["stream", string name, string count, string seed, string waitSeconds] =>
            Stream(name, long.Parse(count, CultureInfo.InvariantCulture), ulong.Parse(seed, CultureInfo.InvariantCulture), TimeSpan.FromSeconds(int.Parse(waitSeconds, CultureInfo.InvariantCulture))),
        ["hold-host", string name] => HoldHost(name),
        ["hold-sidecar", string name, string capacity] => HoldSidecar(name, int.Parse(capacity, CultureInfo.InvariantCulture)),
        ["create-and-exit", string name] => CreateAndExit(name),
        ["dispose-during-wait", string name, string rounds] => DisposeDuringWait(name, int.Parse(rounds, CultureInfo.InvariantCulture)),
        ["use-after-dispose", string name, string operation] => UseAfterDispose(name, operation),
        _ => Usage(),
    };
}
catch (Exception e)
{
    Console.WriteLine($"fail: {e.GetType().Name}: {e.Message}");
    Console.Error.WriteLine(e);
    return 1;
}

// Opens the channel as host and, on two threads at once, writes `count` records to the sidecar
// (blocking claims) and reads and checks `count` records from it (async waits).
static int Stream(string name, long count, ulong seed, TimeSpan waitTimeout)
{
    using ShmChannel channel = ShmChannel.Open(name);
    Ready();
    var clock = Stopwatch.StartNew();
    string? writeError = null;
    var writer = new Thread(() =>
    {
        writeError = StreamTraffic.WriteBlocking(channel.Writer, StreamTraffic.SeedFor(seed, ChannelSide.Host), count, waitTimeout);
        if (writeError is not null)
        {
            // Stop the other side's waits at once instead of at their timeouts.
            channel.Close();
        }
    })
    {
        Name = "peer writer",
    };
    writer.Start();
    string? readError = StreamTraffic.ReadAwaiting(channel.Reader, StreamTraffic.SeedFor(seed, ChannelSide.Sidecar), count, waitTimeout).GetAwaiter().GetResult();
    if (readError is not null)
    {
        channel.Close();
    }

    if (!writer.Join(waitTimeout + TimeSpan.FromSeconds(10)))
    {
        writeError ??= "writer: thread did not finish";
    }

    if (writeError is null && readError is null)
    {
        Console.WriteLine($"ok sent={count} received={count} seconds={clock.Elapsed.TotalSeconds:0.000}");
        return 0;
    }

    Console.WriteLine($"fail: {string.Join("; ", new[] { writeError, readError }.Where(e => e is not null))}");
    return 1;
}

static int HoldHost(string name)
{
    using ShmChannel channel = ShmChannel.Open(name);
    Ready();
    Console.In.ReadToEnd();
    return 0;
}

static int HoldSidecar(string name, int capacity)
{
    using ShmChannel channel = ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = capacity, HostToSidecarCapacity = capacity });
    Ready();
    Console.In.ReadToEnd();
    return 0;
}

// Creates the channel and exits without closing it: leaves a stale file whose sidecar is dead.
static int CreateAndExit(string name)
{
    ShmChannel channel = ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = 4096, HostToSidecarCapacity = 4096 });
    Ready();
    GC.KeepAlive(channel);
    return 0;
}

// Disposes the host end while another thread's WaitToRead is asleep on it, many times: the wait
// must return Closed, and its last look at the file (after Dispose woke it) must come before the
// unmap. A crash here is a SIGSEGV / abort: the test sees the exit code, not a verdict.
static int DisposeDuringWait(string name, int rounds)
{
    var statuses = new Dictionary<ChannelStatus, int>();
    for (int round = 0; round < rounds; round++)
    {
        using ShmChannel sidecar = ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = 4096, HostToSidecarCapacity = 4096 });
        ShmChannel host = ShmChannel.Open(name);
        ChannelStatus status = ChannelStatus.Ok;
        using var started = new ManualResetEventSlim();
        var waiter = new Thread(() =>
        {
            started.Set();
            status = host.Reader.WaitToRead(TimeSpan.FromSeconds(10));
        });
        waiter.Start();
        started.Wait();
        // Dispose only once the wait is asleep (the contract: Dispose wakes waits blocked in other
        // threads and they return Closed before the file is unmapped).
        var spin = default(SpinWait);
        var asleep = Stopwatch.StartNew();
        while (host.Reader.BlockedWaits == 0)
        {
            if (asleep.Elapsed > TimeSpan.FromSeconds(10))
            {
                Console.WriteLine($"fail: round {round}: WaitToRead did not go to sleep within 10 s");
                return 1;
            }

            spin.SpinOnce();
        }

        host.Dispose();
        if (!waiter.Join(TimeSpan.FromSeconds(10)))
        {
            Console.WriteLine($"fail: round {round}: WaitToRead did not return within 10 s of Dispose");
            return 1;
        }

        if (status != ChannelStatus.Closed)
        {
            Console.WriteLine($"fail: round {round}: WaitToRead returned {status} after Dispose, expected Closed");
            return 1;
        }

        statuses[status] = statuses.GetValueOrDefault(status) + 1;
    }

    Console.WriteLine($"ok rounds={rounds} {string.Join(' ', statuses.Select(s => $"{s.Key}={s.Value}"))}");
    return 0;
}

// Calls one ring-end operation after Dispose, on the disposing thread: it must report Closed (or
// throw ObjectDisposedException), not read the unmapped file. A crash is a SIGSEGV / abort: the
// test sees the exit code.
static int UseAfterDispose(string name, string operation)
{
    using ShmChannel sidecar = ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = 4096, HostToSidecarCapacity = 4096 });
    ShmChannel host = ShmChannel.Open(name);
    // One record waiting in each direction, so reads have something cached.
    host.Writer.TryWrite("x"u8);
    sidecar.Writer.TryWrite("y"u8);
    host.Dispose();
    Func<object> call = operation switch
    {
        "TryClaim" => () => host.Writer.TryClaim(8, out _),
        "Claim" => () => host.Writer.Claim(8, out _, TimeSpan.FromMilliseconds(10)),
        "WaitToWriteAsync" => () => host.Writer.WaitToWriteAsync(8).AsTask().GetAwaiter().GetResult(),
        "WriterUsedBytes" => () => host.Writer.UsedBytes,
        "TryRead" => () => host.Reader.TryRead(out _),
        "WaitToRead" => () => host.Reader.WaitToRead(TimeSpan.FromMilliseconds(10)),
        "WaitToReadAsync" => () => host.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult(),
        "ReaderUsedBytes" => () => host.Reader.UsedBytes,
        _ => throw new ArgumentException($"unknown operation {operation}"),
    };
    string result;
    try
    {
        result = Convert.ToString(call(), CultureInfo.InvariantCulture)!;
    }
    catch (ObjectDisposedException)
    {
        result = "ObjectDisposedException";
    }

    Console.WriteLine($"ok {operation}={result}");
    return 0;
}

static void Ready() => Console.WriteLine($"ready {Environment.ProcessId}");

static int Usage()
{
    Console.WriteLine("fail: usage: stream NAME COUNT SEED WAIT_SECONDS | hold-host NAME | hold-sidecar NAME CAPACITY | create-and-exit NAME | dispose-during-wait NAME ROUNDS | use-after-dispose NAME OPERATION");
    return 2;
}
