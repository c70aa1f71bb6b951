using Kaze.Host.Hosting;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kaze.Host.Tests.Hosting;

/// <summary>AddKazeHost with a real Generic Host over the in-memory sidecar.</summary>
public sealed class KazeHostingTests : IAsyncLifetime
{
    private readonly InMemorySidecar _sidecar = new(Ident.Parse("0.0.0.1"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    [Fact]
    public async Task AddKazeHost_ExitRequest_StopsApplication()
    {
        using IHost host = Build(kaze => kaze.AddHandler("echo", Bytes.Echo));
        await host.StartAsync().Within("the host to start");
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        _sidecar.RequestExit();

        await stopping.Task.Within("StopApplication after the exit request");
        await host.WaitForShutdownAsync().Within("the host to shut down");
        await _sidecar.HostClosed.Within("the channel to be closed on shutdown");
    }

    [Fact]
    public async Task AddKazeHost_SidecarKilled_StopsApplication()
    {
        using IHost host = Build(_ => { });
        await host.StartAsync().Within("the host to start");

        _sidecar.Kill();

        await host.WaitForShutdownAsync().Within("the host to shut down after the sidecar died");
    }

    [Fact]
    public async Task AddKazeHost_HandlersFromDelegateAndType_BothAnswer()
    {
        using IHost host = Build(kaze => kaze
            .AddHandler("echo", Bytes.Echo)
            .AddHandler<UpperHandler>("upper"));
        await host.StartAsync().Within("the host to start");

        KazeResponse echo = await _sidecar.CallHostAsync("echo", Bytes.Of("abc")).Within("the echo answer");
        KazeResponse upper = await _sidecar.CallHostAsync("upper", Bytes.Of("abc")).Within("the upper answer");

        Assert.Equal("abc", Bytes.Text(echo.Body));
        Assert.Equal("ABC", Bytes.Text(upper.Body));
        await host.StopAsync().Within("the host to stop");
    }

    [Fact]
    public async Task AddKazeHost_ClientInjected_CanCallOtherNodes()
    {
        _sidecar.MapNode(Ident.Parse("0.0.0.2"), "time", (_, _) => ValueTask.FromResult(KazeReply.Ok(Bytes.Of("noon"))));
        using IHost host = Build(_ => { });
        await host.StartAsync().Within("the host to start");

        KazeClient client = host.Services.GetRequiredService<KazeClient>();
        KazeResponse response = await client.CallAsync(Ident.Parse("0.0.0.2"), "time", default).Within("the time answer");

        Assert.Equal("noon", Bytes.Text(response.Body));
        await host.StopAsync().Within("the host to stop");
    }

    [Fact]
    public async Task AddKazeHost_NoEnvironment_StartFailsSayingToUseKazeRun()
    {
        if (Environment.GetEnvironmentVariable(SidecarEndpoint.ChannelVariable) is not null)
        {
            // Running under a sidecar: the environment is there, and this test's premise is not.
            return;
        }

        using IHost host = new HostBuilder()
            .ConfigureServices(services => services.AddKazeHost())
            .Build();

        var error = await Assert.ThrowsAsync<KazeEnvironmentException>(() => host.StartAsync()).Within("the start to fail");

        Assert.Contains("KAZE_CHANNEL is not set", error.Message);
        Assert.Contains("kaze run", error.Message);
    }

    [Fact]
    public void AddKazeHost_InvalidOptions_ReportsEveryProblem()
    {
        var options = new KazeClientOptions { DefaultCallTimeout = TimeSpan.Zero, MaxQueuedPackets = 0, ReleaseBatch = 0 };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("DefaultCallTimeout", error.Message);
        Assert.Contains("MaxQueuedPackets", error.Message);
        Assert.Contains("ReleaseBatch", error.Message);
    }

    private IHost Build(Action<IKazeHostBuilder> configure) =>
        new HostBuilder()
            .ConfigureServices(services => configure(services.AddKazeHost().ConnectWith(_ => _sidecar.CreateClient())))
            .Build();

    private sealed class UpperHandler : IKazeHandler
    {
        public ValueTask<KazeReply> HandleAsync(KazeRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(KazeReply.Ok(Bytes.Of(Bytes.Text(request.Body).ToUpperInvariant())));
    }
}
