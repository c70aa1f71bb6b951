using Kaze.Core.Waiting;
using Kaze.Mesh;
using Kaze.Plugin;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Resolver.Static;
using Kaze.Service;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Health;
using Kaze.Sidecar.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Hosting;

/// <summary>
/// One sidecar process composed on Microsoft.Extensions.Hosting: the node (edge, pipeline,
/// router, tracker), the corral (TCP to other sidecars) and the resolver, started and stopped
/// together. `kaze run` and `kaze sidecar` both build one.
/// </summary>
/// <remarks>
/// Signals are kaze's business, not the host's: the default console lifetime is replaced, so
/// SIGTERM/SIGINT do not stop the app behind the command's back.
/// </remarks>
public sealed class SidecarApp : IAsyncDisposable
{
    // The Generic Host's own category: it logs a failed start as an error with a stack trace.
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private readonly IHost _host;

    // Whether the HTTP gateway is part of this sidecar (http:* ports set, with a host).
    private readonly bool _withHttp;

    private SidecarApp(IHost host, bool withHttp)
    {
        _host = host;
        _withHttp = withHttp;
        Services = host.Services;
        Node = host.Services.GetRequiredService<SidecarNode>();
        Corral = host.Services.GetService<PeerCorral>();
        Readiness = host.Services.GetRequiredService<SidecarReadiness>();
    }

    /// <summary>The services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>The node.</summary>
    public SidecarNode Node { get; }

    /// <summary>The connections to other sidecars; null when the node neither listens nor knows peers.</summary>
    public PeerCorral? Corral { get; }

    /// <summary>Whether the sidecar is ready (/readyz, systemd's READY=1); `kaze run` reports its host's start to it.</summary>
    public SidecarReadiness Readiness { get; }

    /// <summary>
    /// The loopback port the host calls other nodes' HTTP apps through (<c>KAZE_HTTP_PORT</c>),
    /// once started; null when http:port is not set (docs/http.md).
    /// </summary>
    public int? HttpPort => JitOnlyFeatures.IsSupported && _withHttp ? HttpComposition.Port(Services) : null;

    /// <summary>Composes a sidecar from validated settings.</summary>
    /// <param name="settings">The effective settings.</param>
    /// <param name="withHost">True for `kaze run` (a channel to a host), false for a relay.</param>
    /// <param name="logging">Configures logging (tests add their providers here).</param>
    /// <param name="configuration">The effective configuration (plugins read their sections from it); null for none.</param>
    /// <param name="plugins">Built-in and loaded plugins, in pipeline order (outermost first).</param>
    /// <exception cref="PluginException">A plugin failed to configure itself; the message names it.</exception>
    public static SidecarApp Build(KazeSettings settings, bool withHost, Action<ILoggingBuilder> logging, IConfiguration? configuration = null, IReadOnlyList<IKazePlugin>? plugins = null)
    {
        ArgumentNullException.ThrowIfNull(logging);
        return BuildCore(settings, withHost, builder =>
        {
            builder.Logging.ClearProviders();
            // The caller's providers decide the level (kaze's --log-level); the Generic Host's own
            // default filter (Information) would drop every Debug line of the sidecar's components.
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            // Start failures (channel in use, cannot listen) are the command's to report, in one line;
            // the Generic Host would log them first, as an error with a stack trace.
            builder.Logging.AddFilter(HostCategory, LogLevel.Critical);
            logging(builder.Logging);
        }, configuration, plugins);
    }

    /// <summary>Composes a sidecar from validated settings, logging through <paramref name="loggers"/>.</summary>
    /// <param name="settings">The effective settings.</param>
    /// <param name="withHost">True for `kaze run` (a channel to a host), false for a relay.</param>
    /// <param name="loggers">
    /// The factory every part of the sidecar logs through (the CLI's, with its sinks and levels);
    /// the app does not dispose it. Cheaper to start than the Generic Host's own factory, whose
    /// filters and options the CLI does not need.
    /// </param>
    /// <param name="configuration">The effective configuration (plugins read their sections from it); null for none.</param>
    /// <param name="plugins">Built-in and loaded plugins, in pipeline order (outermost first).</param>
    /// <exception cref="PluginException">A plugin failed to configure itself; the message names it.</exception>
    public static SidecarApp Build(KazeSettings settings, bool withHost, ILoggerFactory loggers, IConfiguration? configuration = null, IReadOnlyList<IKazePlugin>? plugins = null)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        return BuildCore(
            settings,
            withHost,
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(new CallerLoggerFactory(loggers))),
            configuration,
            plugins);
    }

    private static SidecarApp BuildCore(KazeSettings settings, bool withHost, Action<HostApplicationBuilder> configureLogging, IConfiguration? configuration, IReadOnlyList<IKazePlugin>? plugins)
    {
        configuration ??= new ConfigurationBuilder().Build();
        plugins ??= [];
        RefuseDuplicateNames(plugins);
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        configureLogging(builder);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(configuration);
        builder.Services.AddSingleton<IHostLifetime>(new CommandLifetime());
        // No static peers (`kaze run --listen off`): the ready-made empty table. Building one, even
        // empty, compiles its dictionaries' code on the spot, milliseconds of every start.
        IReadOnlyList<NodeEntry> staticNodes = settings.NodeEntries;
        builder.Services.AddSingleton(sp => new StaticResolver(staticNodes.Count == 0 ? NodeTable.Empty : NodeTable.Create(staticNodes)));
        // With etcd, its view answers after the static nodes (docs/discovery.md).
        bool withEtcd = settings.Get(SettingsCatalog.EtcdEndpoints) is { Count: > 0 };
        if (withEtcd)
        {
            DiscoveryComposition.AddServices(builder.Services, settings);
        }
        else
        {
            builder.Services.AddSingleton<IResolver>(sp => sp.GetRequiredService<StaticResolver>());
        }

        builder.Services.AddSingleton(sp => new SidecarNode(
            settings.ToSidecarOptions(withHost),
            sp.GetRequiredService<ILoggerFactory>(),
            sp,
            sp.GetRequiredService<IResolver>()));
        builder.Services.AddSingleton(sp =>
        {
            SidecarNode node = sp.GetRequiredService<SidecarNode>();
            var options = new CorralOptions
            {
                Listen = settings.Listen ?? new NodeAddress("127.0.0.1", 0),
                // Read (and checked) with the settings: a bad secret file is a settings problem, not a start failure.
                Secret = settings.Secret?.Secret,
                Tls = settings.Tls,
                HandshakeTimeout = settings.Get(SettingsCatalog.HandshakeTimeout),
                ConnectTimeout = settings.Get(SettingsCatalog.ConnectTimeout),
                IdleTimeout = settings.Get(SettingsCatalog.IdleTimeout),
                ReconnectMin = settings.Get(SettingsCatalog.ReconnectMin),
                ReconnectMax = settings.Get(SettingsCatalog.ReconnectMax),
                MaxFrameSize = (int)settings.Get(SettingsCatalog.MaxFrameSize),
                MaxQueuedPackets = settings.Get(SettingsCatalog.MaxQueuedPackets),
                MaxConnections = settings.Get(SettingsCatalog.MaxConnections),
                MaxHandshaking = settings.Get(SettingsCatalog.MaxHandshaking),
                FrameTimeout = settings.Get(SettingsCatalog.FrameTimeout),
                ReceiveBudget = settings.Get(SettingsCatalog.ReceiveBudget),
            };
            return new PeerCorral(
                options,
                settings.Ident,
                sp.GetRequiredService<IResolver>(),
                (packet, from) => node.OnNetworkPacket(packet, from),
                node.OnUndeliverable,
                sp.GetRequiredService<ILoggerFactory>());
        });
        // Contributors (IReadinessContributor) are whatever plugins and discovery register.
        builder.Services.AddSingleton(sp => new SidecarReadiness(
            sp.GetRequiredService<SidecarNode>(),
            withHost,
            withHost ? settings.Http.AppPort : null,
            sp.GetServices<IReadinessContributor>()));
        // A factory rather than the type: the container then needs no reflection over its constructor.
        builder.Services.AddHostedService(sp => new SidecarService(
            sp.GetRequiredService<SidecarNode>(),
            sp.GetRequiredService<PeerCorral>(),
            withEtcd ? sp : null,
            settings,
            sp.GetRequiredService<SidecarReadiness>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<SidecarApp>()));
        // HTTP only with a host: the gateway's app is the host's, and its port is for the host.
        // A Native AOT build has no gateway (YARP needs the JIT): it defers HTTP settings to the JIT build.
        bool withHttp = withHost && settings.Http.Enabled && JitOnlyFeatures.IsSupported;
        if (JitOnlyFeatures.IsSupported && withHttp)
        {
            HttpComposition.AddServices(builder.Services, settings.Http);
        }

        var contexts = new List<(IKazePlugin Plugin, PluginContext Context)>(plugins.Count);
        foreach (IKazePlugin plugin in plugins)
        {
            var context = new PluginContext(plugin.Name, PluginSection(configuration, plugin.Name), configuration, settings.Ident);
            Guard(plugin, "configuring its services", () => plugin.ConfigureServices(context, builder.Services));
            contexts.Add((plugin, context));
        }

        IHost host = builder.Build();
        try
        {
            SidecarNode node = host.Services.GetRequiredService<SidecarNode>();
            foreach ((IKazePlugin plugin, PluginContext context) in contexts)
            {
                Guard(plugin, "adding its middleware", () => plugin.ConfigurePipeline(context, node.Pipeline, host.Services));
            }

            if (JitOnlyFeatures.IsSupported && withHttp)
            {
                HttpComposition.Attach(host.Services);
            }

            return new SidecarApp(host, withHttp);
        }
        catch
        {
            // Nothing started yet, but the services made so far (a plugin's among them) are disposed.
            host.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Two plugins with one name would share a configuration section and be indistinguishable in
    /// logs and errors: a plugin named like a built-in ("metrics", "rateLimits", "logForwarding") or like
    /// one before it is refused, before anything is built. Names compare as configuration keys do,
    /// ignoring case.
    /// </summary>
    private static void RefuseDuplicateNames(IReadOnlyList<IKazePlugin> plugins)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (IKazePlugin plugin in plugins)
        {
            if (!names.Add(plugin.Name))
            {
                throw new PluginException(plugin.Name, "registering", new InvalidOperationException(
                    $"another plugin (a built-in, or one listed before it) is already named '{plugin.Name}'; give this one another name"));
            }
        }
    }

    /// <summary>A plugin's section: its own top-level section if the configuration has one (built-ins: "metrics", "rateLimits"…), else "plugins:&lt;name&gt;".</summary>
    private static IConfiguration PluginSection(IConfiguration configuration, string name)
    {
        IConfigurationSection own = configuration.GetSection(name);
        return own.Exists() ? own : configuration.GetSection("plugins:" + name);
    }

    private static void Guard(IKazePlugin plugin, string what, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            throw new PluginException(plugin.Name, what, e);
        }
    }

    /// <summary>Starts the node, the corral and the HTTP gateway. Throws (ChannelException, CorralListenException, HttpListenException) if one cannot start.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _host.StartAsync(cancellationToken).ConfigureAwait(false);
        Readiness.ReportStarted();
    }

    /// <summary>Stops the corral and the node; the channel file is deleted.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _host.StopAsync(cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            _host.Dispose();
        }
    }

    /// <summary>Starts and stops the node and the corral with the host.</summary>
    private sealed class SidecarService(SidecarNode node, PeerCorral corral, IServiceProvider? discovery, KazeSettings settings, SidecarReadiness readiness, ILogger logger) : IHostedService
    {
        // Not async itself: a sidecar that neither listens nor knows peers (`kaze run --listen off`)
        // starts without one more state machine to compile.
        public Task StartAsync(CancellationToken cancellationToken)
        {
            bool corralStarts = settings.Listen is not null || settings.NodeEntries.Count > 0 || discovery is not null;
            string? spin = Environment.GetEnvironmentVariable(SpinBudget.MaxSpinVariable);
            if (spin is not null && !SpinBudget.IsValidSetting(spin))
            {
                HostingLog.BadSpinSetting(logger, SpinBudget.MaxSpinVariable, spin, SpinBudget.MaxMicroseconds(null, Environment.ProcessorCount));
            }

            try
            {
                // With a host, the edge's reader also reads the peer connections while it polls
                // (without one nothing polls the lender, and connections never lend). A sidecar
                // with no corral to start (`kaze run --listen off`) gives its reader nothing to poll.
                node.UseMesh(new CorralLink(corral), corralStarts ? corral.LendReads() : null);
                node.Start();
            }
            catch (Exception e)
            {
                return Task.FromException(e);
            }

            if (!corralStarts)
            {
                readiness.ReportMesh("not listening (listen is off)");
                return Task.CompletedTask;
            }

            return StartCorralAsync(cancellationToken);
        }

        private async Task StartCorralAsync(CancellationToken cancellationToken)
        {
            bool listening = settings.Listen is not null;
            try
            {
                await corral.StartAsync(cancellationToken).ConfigureAwait(false);
                readiness.ReportMesh("listening on " + corral.LocalEndPoint);
            }
            catch (CorralListenException e) when (settings.ListenIsDefault)
            {
                // The default port is taken (another kaze on this machine): run on without
                // accepting peers; this sidecar can still reach others. An address given on
                // purpose that cannot be bound stops the start instead.
                HostingLog.DefaultListenBusy(logger, e.Message);
                readiness.ReportMesh("not accepting other sidecars: the default port is taken (" + e.Message + ")");
                listening = false;
            }

            if (discovery is not null)
            {
                // After the corral listens: the registered address has the port actually bound.
                await DiscoveryComposition.StartAsync(discovery, node, corral, settings, listening, cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (discovery is not null)
            {
                // First: the entry goes at once, so the others stop sending here before the corral closes.
                await DiscoveryComposition.StopAsync(discovery).ConfigureAwait(false);
            }

            await corral.DisposeAsync().ConfigureAwait(false);
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The router's view of the corral.</summary>
    private sealed class CorralLink(PeerCorral corral) : IMeshLink
    {
        public bool TrySend(Ident peer, Packet packet, out bool queueFull)
        {
            SendResult result = corral.TrySend(peer, packet);
            // A full queue and a frame over the limit are both "a limit was hit": RESOURCE_EXHAUSTED.
            queueFull = result is SendResult.QueueFull or SendResult.TooLarge;
            return result == SendResult.Queued;
        }

        public bool IsAvailable(Ident peer) => !corral.IsBackingOff(peer);
    }

    /// <summary>
    /// The caller's logger factory as the services see it: not disposed with the app, and the
    /// Generic Host's own category only at Critical (start failures, such as a channel in use or
    /// an address that cannot be bound, are the command's to report, in one line).
    /// </summary>
    private sealed class CallerLoggerFactory(ILoggerFactory loggers) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName)
        {
            ILogger logger = loggers.CreateLogger(categoryName);
            return categoryName == HostCategory ? new CriticalOnlyLogger(logger) : logger;
        }

        public void AddProvider(ILoggerProvider provider) => loggers.AddProvider(provider);

        public void Dispose()
        {
        }
    }

    private sealed class CriticalOnlyLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Critical && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    /// <summary>No console lifetime: the command decides when to stop.</summary>
    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

internal static partial class HostingLog
{
    [LoggerMessage(EventId = 320, Level = LogLevel.Warning, Message = "Not accepting other sidecars: {Reason} (the default port is taken, probably by another kaze; give --listen HOST:PORT, or --listen off)")]
    public static partial void DefaultListenBusy(ILogger logger, string reason);

    [LoggerMessage(EventId = 321, Level = LogLevel.Warning, Message = "{Variable}={Value} is not a number of microseconds from 0 to 10000, and is ignored: polls spin for at most {Default} µs")]
    public static partial void BadSpinSetting(ILogger logger, string variable, string value, long @default);
}
