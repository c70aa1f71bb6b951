using System.Diagnostics;
using Kaze.Core.TestPeer;
using Kaze.Core.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Core.Tests;

/// <summary>
/// Two real processes, both directions at once: this process is the sidecar, the TestPeer the
/// host; each writes a stream of numbered, checksummed records of random sizes (0..2 KiB payloads,
/// a few near the ring's maximum) on one thread while it reads and checks the other stream on
/// another. Each side checks every record (sequence, length, checksum, bytes; see StreamTraffic);
/// the peer reports its verdict through its exit code and stdout.
/// </summary>
/// <remarks>
/// Each ring has one blocking end and one async end: here the writer awaits WaitToWriteAsync and
/// the reader blocks in Read; in the peer the writer blocks in Claim and the reader awaits
/// WaitToReadAsync. Rings are 64 KiB, so they wrap every ~60 records and fill up often.
/// </remarks>
[Collection(SerialTests.Name)]
public sealed class ShmChannelCrossProcessTests(ITestOutputHelper output) : IDisposable
{
    private const int Capacity = 64 * 1024;

    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public Task Stream_50kRecordsEachWayWithAPeerProcess_NoneLostDuplicatedOrCorrupt() =>
        RunStream(50_000, TimeSpan.FromSeconds(60));

    [Fact]
    [Trait("Category", "Stress")]
    public Task Stream_1MRecordsEachWayWithAPeerProcess_NoneLostDuplicatedOrCorrupt() =>
        RunStream(1_000_000, TimeSpan.FromMinutes(5));

    private async Task RunStream(long count, TimeSpan budget)
    {
        // A wait longer than this means the other side is stuck.
        TimeSpan waitTimeout = TimeSpan.FromSeconds(30);
        ulong seed = (ulong)Random.Shared.NextInt64();
        output.WriteLine($"seed {seed}");
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name, Capacity, Capacity);
        using var peer = TestPeerProcess.Start("stream", name, count, seed, (int)waitTimeout.TotalSeconds);
        int peerPid = peer.WaitForReady(Deadline.Short);
        Assert.Equal(peerPid, sidecar.PeerPid);
        var clock = Stopwatch.StartNew();

        Task<string?> writer = Task.Run(async () =>
        {
            string? error = await StreamTraffic.WriteAwaiting(sidecar.Writer, StreamTraffic.SeedFor(seed, ChannelSide.Sidecar), count, waitTimeout);
            if (error is not null)
            {
                // Stop the peer's waits at once instead of at their timeouts.
                sidecar.Close();
            }

            return error;
        });
        var reader = BlockingCall<string?>.Start("sidecar reader", () =>
        {
            string? error = StreamTraffic.ReadBlocking(sidecar.Reader, StreamTraffic.SeedFor(seed, ChannelSide.Host), count, waitTimeout);
            if (error is not null)
            {
                sidecar.Close();
            }

            return error;
        });

        string? readError = reader.Result(budget, $"this side to receive {count} records from the peer");
        string? writeError = await writer.Within($"this side to send {count} records to the peer", budget);
        int exitCode = peer.WaitForExit(budget, "the peer to finish both streams and report");
        output.WriteLine($"{count} records each way in {clock.Elapsed.TotalSeconds:0.00} s; peer: {peer.Output.Trim()}");

        Assert.True(writeError is null, $"sidecar (this process) {writeError}{peer.Diagnostics()}");
        Assert.True(readError is null, $"sidecar (this process) {readError}{peer.Diagnostics()}");
        Assert.True(exitCode == 0, $"the peer exited with {exitCode}{peer.Diagnostics()}");
        Assert.Contains($"ok sent={count} received={count}", peer.Output, StringComparison.Ordinal);
        Assert.Equal(0, sidecar.Reader.UsedBytes);
    }
}
