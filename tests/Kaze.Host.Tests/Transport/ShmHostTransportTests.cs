using System.Text;
using Kaze.Core;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;

namespace Kaze.Host.Tests.Transport;

/// <summary>
/// The client over a real shared-memory channel, with the test playing the sidecar: the shm
/// transport end to end, including both rings full at once.
/// </summary>
public sealed class ShmHostTransportTests
{
    private static readonly Ident Remote = Ident.Parse("0.0.0.2");

    [Fact]
    public async Task CallAsync_SidecarAnswers_ResponseCorrelated()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        await using KazeClient client = sidecar.Connect();
        client.Start();

        Task<KazeResponse> call = client.CallAsync(Remote, "ping", Bytes.Of("over shm"), TimeSpan.FromSeconds(10)).AsTask();
        var (request, body) = await Task.Run(() => sidecar.Read("the request"));
        Hdr response = Hdr.CreateResponse(request, RetCode.Ok, "pong");
        response.SrcIdent = Remote.Value;
        sidecar.Write(response, Bytes.Of("pong: " + Encoding.UTF8.GetString(body)));
        KazeResponse result = await call.Within("the response over shm");

        Assert.Equal(Remote.Value, request.DstIdent);
        Assert.Equal(10_000u, request.Timeout);
        Assert.True(request.ExpectsResponse);
        Assert.Equal(RetCode.Ok, result.Code);
        Assert.Equal("pong: over shm", Bytes.Text(result.Body));
        Assert.Equal(Remote, result.Source);
        Assert.Equal(0, client.PendingCallCount);
    }

    [Fact]
    public async Task Handler_SidecarSendsRequest_ResponseGoesBackToSource()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        await using KazeClient client = sidecar.Connect();
        client.AddHandler("echo", Bytes.Echo);
        client.Start();

        Hdr request = Hdr.CreateRequest(sidecar.Ident, "echo", 77, 1000);
        request.SrcIdent = 5;
        sidecar.Write(request, Bytes.Of("hello host"));
        var (response, body) = await Task.Run(() => sidecar.Read("the echo response"));

        Assert.Equal(Hdr.RpcTypeOneofCase.Rsp, response.RpcTypeCase);
        Assert.Equal(77u, response.Rsp);
        Assert.Equal(5u, response.DstIdent);
        Assert.Equal((uint)RetCode.Ok, response.RetCode);
        Assert.Equal("hello host", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public async Task ExitRequest_OverSharedMemory_CancelsExitRequested()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        await using KazeClient client = sidecar.Connect();
        client.Start();
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = client.ExitRequested.Register(() => exited.TrySetResult());

        Hdr exit = Hdr.CreateNotify(sidecar.Ident, ControlBodyTypes.Exit);
        exit.SrcIdent = sidecar.Ident.Value;
        sidecar.Write(exit, default);

        await exited.Task.Within("ExitRequested after the kaze.exit notify");
    }

    [Fact]
    public async Task SidecarCloses_PendingCallsFailPromptlyAndCompletionEnds()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        await using KazeClient client = sidecar.Connect();
        client.Start();
        Task<KazeResponse> call = client.CallAsync(Remote, "ping", Bytes.Of("x"), TimeSpan.FromSeconds(60)).AsTask();
        await Task.Run(() => sidecar.Read("the request"));

        sidecar.Channel.Close();
        ChannelStatus status = await client.Completion.Within("Completion after the sidecar closed", TimeSpan.FromSeconds(5));
        KazeResponse response = await call.Within("the pending call to fail", TimeSpan.FromSeconds(5));

        Assert.Equal(ChannelStatus.Closed, status);
        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.Equal(0, client.PendingCallCount);
    }

    [Fact]
    public async Task Dispose_HostSide_ClosesChannelButLeavesFile()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        KazeClient client = sidecar.Connect();
        client.Start();

        await client.DisposeAsync();

        Assert.True(File.Exists(sidecar.Channel.FilePath), "the host deleted the sidecar's channel file");
        Assert.True(ChannelInfo.Read(sidecar.Channel.FilePath).Closed);
        Assert.Equal(ChannelStatus.Closed, await client.Completion.Within("Completion after dispose"));
    }

    // docs/shm-format.md: the sidecar's pid is the i32 at offset 128 of the header.
    private const int SidecarPidOffset = 128;

    [Fact]
    public void Connect_SidecarDead_RefusedAsStaleWithThePid()
    {
        using ShmTestSidecar sidecar = ShmTestSidecar.Create();
        using (var exited = System.Diagnostics.Process.Start("true"))
        {
            exited.WaitForExit();
            // The file now names a sidecar that has exited, as a SIGKILLed sidecar's file does.
            using var file = new FileStream(sidecar.Channel.FilePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            file.Position = SidecarPidOffset;
            file.Write(BitConverter.GetBytes(exited.Id));
        }

        int deadPid = BitConverter.ToInt32(File.ReadAllBytes(sidecar.Channel.FilePath), SidecarPidOffset);
        var error = Assert.Throws<KazeSidecarGoneException>(() => sidecar.Connect());

        Assert.Equal($"{sidecar.Channel.FilePath}: the sidecar (pid {deadPid}) is not running: the channel is stale; start the program under `kaze run`", error.Message);
        Assert.Equal(deadPid, error.SidecarPid);
        Assert.True(File.Exists(sidecar.Channel.FilePath), "the host deleted the sidecar's channel file");
    }

    [Fact]
    public void Connect_NoSuchChannel_SaysToStartUnderKazeRun()
    {
        var error = Assert.Throws<ChannelNotFoundException>(() => KazeClient.Connect(new SidecarEndpoint("kaze-host-test-missing-" + Guid.NewGuid().ToString("N")[..8], new Ident(1), 1)));

        Assert.Contains("kaze run", error.Message);
    }

    [Fact]
    public async Task RingsFullBothWays_HostKeepsReadingAndAnswering_NoDeadlock()
    {
        const int Notifies = 200;
        const int Requests = 300;
        using ShmTestSidecar sidecar = ShmTestSidecar.Create(capacity: 4096);
        await using KazeClient client = sidecar.Connect(new KazeClientOptions { MaxQueuedPackets = 16 });
        client.AddHandler("echo", Bytes.Echo);
        client.Start();

        // 1. The sidecar does not read: the host → sidecar ring fills, then the send queue, then
        //    the sender is held back.
        Task sends = Task.Run(async () =>
        {
            for (int i = 0; i < Notifies; i++)
            {
                await client.SendAsync(Remote, "note", Body(i));
            }
        });
        await Eventually.True(() => client.QueuedPacketCount >= 16, "the host's send queue to reach its limit");
        Assert.False(sends.IsCompleted, "all notifies went out although nobody reads the ring");

        // 2. Still not reading, the sidecar sends more requests than its ring holds. The host must
        //    keep reading them: its answers queue up instead of waiting for the full ring.
        await Task.Run(() =>
        {
            for (int i = 0; i < Requests; i++)
            {
                Hdr request = Hdr.CreateRequest(sidecar.Ident, "echo", (uint)(1000 + i), 10_000);
                request.SrcIdent = 5;
                sidecar.Write(request, Body(i));
            }
        }).Within($"the sidecar to write {Requests} requests into a 4 KiB ring while its own ring is full", TimeSpan.FromSeconds(60));

        // 3. Now the sidecar reads: every notify and every answer arrives, each kind in order.
        int nextNotify = 0;
        int nextResponse = 0;
        await Task.Run(() =>
        {
            for (int n = 0; n < Notifies + Requests; n++)
            {
                var (header, body) = sidecar.Read($"packet {n} of {Notifies + Requests}");
                if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp)
                {
                    Assert.Equal((uint)(1000 + nextResponse), header.Rsp);
                    Assert.Equal(Body(nextResponse), body);
                    nextResponse++;
                }
                else
                {
                    Assert.Equal("note", header.BodyType);
                    Assert.Equal(Body(nextNotify), body);
                    nextNotify++;
                }
            }
        }).Within("the sidecar to read every packet", TimeSpan.FromSeconds(60));
        await sends.Within("the held-back sender to finish");

        Assert.Equal(Notifies, nextNotify);
        Assert.Equal(Requests, nextResponse);
        Assert.Equal(0, client.QueuedPacketCount);
    }

    [Fact]
    public async Task CallAsync_ConcurrentCallersThroughSmallRing_EveryResponseMatchesItsRequest()
    {
        const int Callers = 8;
        const int CallsEach = 2_000;
        using ShmTestSidecar sidecar = ShmTestSidecar.Create(capacity: 4096);
        await using KazeClient client = sidecar.Connect(new KazeClientOptions { MaxQueuedPackets = 4 });
        client.Start();

        // The sidecar answers every request with its body, from its own thread.
        Task answering = Task.Factory.StartNew(
            () =>
            {
                for (int n = 0; n < Callers * CallsEach; n++)
                {
                    var (request, body) = sidecar.Read($"request {n}");
                    Hdr response = Hdr.CreateResponse(request, RetCode.Ok, "echo");
                    response.SrcIdent = Remote.Value;
                    sidecar.Write(response, body);
                }
            },
            TaskCreationOptions.LongRunning);
        Task<int>[] callers = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            byte[] body = new byte[200];
            for (int i = 0; i < CallsEach; i++)
            {
                BitConverter.TryWriteBytes(body, (caller << 20) | i);
                KazeResponse response = await client.CallAsync(Remote, "echo", body, TimeSpan.FromSeconds(30));
                Assert.Equal(RetCode.Ok, response.Code);
                Assert.Equal((caller << 20) | i, BitConverter.ToInt32(response.Body.Span));
            }

            return CallsEach;
        })).ToArray();

        int[] done = await Task.WhenAll(callers).Within($"{Callers} callers to finish {CallsEach} calls each over a 4 KiB ring", TimeSpan.FromSeconds(120));
        await answering.Within("the sidecar to answer every request");

        Assert.All(done, count => Assert.Equal(CallsEach, count));
        Assert.Equal(0, client.PendingCallCount);
    }

    private static byte[] Body(int i)
    {
        byte[] body = new byte[100];
        BitConverter.TryWriteBytes(body, i);
        body.AsSpan(4).Fill((byte)i);
        return body;
    }
}
