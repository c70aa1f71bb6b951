using System.Text.Json;
using Kaze.Host.Logging;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Tests.Logging;

/// <summary>AddKaze / AddLogForwarding with a real Generic Host over the in-memory sidecar.</summary>
public sealed class KazeLoggingHostingTests : IAsyncLifetime
{
    private readonly InMemorySidecar _sidecar = new(Ident.Parse("0.0.0.3"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    [Fact]
    public async Task AddKaze_RecordsBeforeAndAfterStart_AreSentOnceStarted()
    {
        using IHost host = Build(services => services.AddLogging(logging => logging.AddKaze()));
        ILogger logger = host.Services.GetRequiredService<ILogger<KazeLoggingHostingTests>>();
        logger.LogWarning("before start");

        await host.StartAsync().Within("the host to start");
        logger.LogWarning("after start");

        await _sidecar.WaitForSentAsync(p => LogBody.IsLog(p) && Bytes.Text(p.Body).Contains("after start", StringComparison.Ordinal)).Within("the record logged after start");
        string[] messages = [.. LogBody.Logs(_sidecar).Select(p => LogBody.Text(LogBody.Parse(p), "message"))];
        Assert.Contains("before start", messages);
        JsonElement body = LogBody.Parse(LogBody.Logs(_sidecar).First(p => Bytes.Text(p.Body).Contains("after start", StringComparison.Ordinal)));
        Assert.Equal(typeof(KazeLoggingHostingTests).FullName, LogBody.Text(body, "category"));
        await host.StopAsync().Within("the host to stop");
    }

    [Fact]
    public async Task AddLogForwarding_RecordLoggedWhileStopping_IsFlushedBeforeTheChannelCloses()
    {
        using IHost host = Build(services => services.AddLogging().AddKazeHost().AddLogForwarding(o => o.QueueCapacity = 16));
        await host.StartAsync().Within("the host to start");
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        ILogger logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Shutdown");
        lifetime.ApplicationStopping.Register(() => logger.LogWarning("stopping now"));

        await host.StopAsync().Within("the host to stop");

        // In the channel before it closed; the in-memory sidecar reads it in its own time.
        await _sidecar.WaitForSentAsync(p => LogBody.IsLog(p) && Bytes.Text(p.Body).Contains("stopping now", StringComparison.Ordinal)).Within("the record logged while stopping");
        Assert.Equal(16, host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<KazeLoggerOptions>>().Value.QueueCapacity);
        Assert.True(host.Services.GetRequiredService<KazeLoggerProvider>().IsAttached);
    }

    [Fact]
    public async Task AddKaze_WithoutAClient_FailsAtStartWithAMessage()
    {
        using IHost host = new HostBuilder()
            .ConfigureServices(services => services.AddLogging(logging => logging.AddKaze()))
            .Build();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().Within("the host to fail its start"));

        Assert.Contains("services.AddKazeHost()", e.Message, StringComparison.Ordinal);
        Assert.Contains("KazeLoggerProvider.Attach(client)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddKaze_WithAClientAttachedByTheApp_Starts()
    {
        await using KazeClient client = _sidecar.CreateClient();
        using IHost host = new HostBuilder()
            .ConfigureServices(services => services.AddLogging(logging => logging.AddKaze()))
            .Build();
        host.Services.GetRequiredService<KazeLoggerProvider>().Attach(client);

        await host.StartAsync().Within("the host to start");

        host.Services.GetRequiredService<ILogger<KazeLoggingHostingTests>>().LogWarning("own client");
        await _sidecar.WaitForSentAsync(p => LogBody.IsLog(p) && Bytes.Text(p.Body).Contains("own client", StringComparison.Ordinal)).Within("the record sent through the app's own client");
        await host.StopAsync().Within("the host to stop");
    }

    private IHost Build(Action<IServiceCollection> configure) =>
        new HostBuilder()
            .ConfigureServices(services =>
            {
                configure(services);
                // The client logs through the app's factory, the provider among its providers, as in an app.
                services.AddKazeHost().ConnectWith(sp => _sidecar.CreateClient(loggerFactory: sp.GetService<ILoggerFactory>()));
            })
            .Build();
}
