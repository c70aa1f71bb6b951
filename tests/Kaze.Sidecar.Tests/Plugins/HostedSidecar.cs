using Kaze.Host;
using Kaze.Plugin;
using Kaze.Protocol;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Plugins;

/// <summary>
/// A real sidecar (<see cref="SidecarApp"/> with a channel, as `kaze run` builds it) and a host on
/// the other end of the channel (<see cref="KazeClient"/>), in this process. Unique channel name;
/// the channel file is removed when the sidecar stops.
/// </summary>
internal sealed class HostedSidecar : IAsyncDisposable
{
    public static readonly Ident Self = new(1);

    private HostedSidecar(SidecarApp app, KazeClient client, LogCapture logs)
    {
        App = app;
        Client = client;
        Logs = logs;
    }

    public SidecarApp App { get; }

    public KazeClient Client { get; }

    public LogCapture Logs { get; }

    /// <param name="json">The whole configuration (kaze.json), e.g. with "plugins" or "rateLimits".</param>
    /// <param name="plugins">Plugins in pipeline order, as BuiltInPlugins.Create gives them.</param>
    /// <param name="handlers">Adds the host's handlers before the client starts.</param>
    public static async Task<HostedSidecar> StartAsync(string json, IReadOnlyList<IKazePlugin> plugins, Action<KazeClient>? handlers = null)
    {
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)))
            .Build();
        var settings = KazeSettings.Defaults.With(SettingsCatalog.Ident, Self).With(SettingsCatalog.ChannelName, "kaze-plugin-test-" + Guid.NewGuid().ToString("N")[..12]);
        var logs = new LogCapture();
        SidecarApp app = SidecarApp.Build(settings, withHost: true, logging => logging.AddProvider(logs), configuration, plugins);
        try
        {
            await app.StartAsync().Within("the sidecar to start");
            KazeClient client = KazeClient.Connect(new SidecarEndpoint(app.Node.Edge.ChannelName, Self, Environment.ProcessId));
            handlers?.Invoke(client);
            client.Start();
            return new HostedSidecar(app, client, logs);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    public async Task<KazeResponse> CallAsync(string bodyType, Ident? destination = null, string what = "")
    {
        KazeResponse response = await Client.CallAsync(destination ?? Self, bodyType, ReadOnlyMemory<byte>.Empty, TimeSpan.FromSeconds(10))
            .AsTask().Within($"the answer to {bodyType} {what}");
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
