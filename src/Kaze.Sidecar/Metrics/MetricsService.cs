using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kaze.Mesh;
using Kaze.Resolver;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// Runs the metrics export for as long as the sidecar runs: the OpenTelemetry meter provider
/// with its readers, Kestrel serving /metrics on <c>metrics:listen</c>, and the OTLP exporter
/// if <c>metrics:otlpEndpoint</c> is set.
/// </summary>
/// <remarks>
/// <para>
/// Everything starts in the background, <see cref="StartDelay"/> after the sidecar:
/// <see cref="StartAsync"/> returns at once. Building the
/// SDK's meter provider and starting Kestrel cost a few hundred milliseconds of loading and JIT
/// on a small machine (see the README), which would otherwise delay the host program's start.
/// The observable instruments lose nothing by it (they read cumulative counters); only call
/// latencies recorded before the provider listens are not in the histogram.
/// </para>
/// <para>
/// <see cref="Listening"/> completes with the bound address, or fails with a
/// <see cref="MetricsListenException"/> naming the address, which is also logged as an error;
/// the sidecar runs on without the endpoint.
/// </para>
/// <para>
/// Stopping runs before the node stops (hosted services stop in reverse order): Kestrel stops,
/// the meter provider is disposed (OTLP makes its last export, with the host's exit code), and
/// then the observable instruments let go of the node. A start still under way is not waited
/// for (a short <c>kaze run</c> would pay for all of it at exit): each step checks for a stop
/// and undoes itself.
/// </para>
/// </remarks>
internal sealed class MetricsService : IHostedService, IAsyncDisposable
{
    /// <summary>
    /// How long after the sidecar's start the export starts: long enough that a short host
    /// program (`kaze run -- true`) is done before the export's start competes with it for CPU.
    /// </summary>
    public static readonly TimeSpan StartDelay = TimeSpan.FromMilliseconds(250);

    private readonly MetricsOptions _options;
    private readonly KazeMeter _meter;
    private readonly SidecarNode _node;
    private readonly PeerCorral _corral;
    private readonly string _ident;
    private readonly IServiceProvider _services;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<IPEndPoint> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guards the two fields below, and the fields of _parts, between the background start and a stop.
    private readonly Lock _gate = new();

    // What the background start made so far; null until it begins, and again once a stop took it.
    private Parts? _parts;

    // True once a stop began: a start step that completes later undoes itself.
    private bool _stopped;

    // 1 once DisposeAsync ran (the container may call it twice: the service is also an IHostedService).
    private int _disposed;

    public MetricsService(MetricsOptions options, KazeMeter meter, SidecarNode node, PeerCorral corral, string ident, IServiceProvider services, ILoggerFactory loggers)
    {
        _options = options;
        _meter = meter;
        _node = node;
        _corral = corral;
        _ident = ident;
        _services = services;
        _loggers = loggers;
        _logger = loggers.CreateLogger("Kaze.Sidecar.Metrics");
        if (options.Listen is null)
        {
            _listening.SetException(new InvalidOperationException("The metrics endpoint is off (metrics:listen is \"off\")."));
            _ = _listening.Task.Exception;
        }
    }

    /// <summary>Completes with the address /metrics is served on once Kestrel listens; fails with <see cref="MetricsListenException"/> if it cannot.</summary>
    public Task<IPEndPoint> Listening => _listening.Task;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(StartExportAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        TakeForStop() is { } parts ? parts.StopAsync(cancellationToken) : Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            TakeForStop()?.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private Parts? TakeForStop()
    {
        lock (_gate)
        {
            _stopped = true;
            Parts? taken = _parts;
            _parts = null;
            return taken;
        }
    }

    private async Task StartExportAsync()
    {
        try
        {
            await Task.Delay(StartDelay).ConfigureAwait(false);
            await StartStepsAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                if (_stopped)
                {
                    // Stopped meanwhile (the process may be exiting under the SDK): nothing to report.
                    _listening.TrySetCanceled();
                    return;
                }
            }

            // E.g. the OTLP exporter refused its options: metrics are off, the sidecar runs on.
            MetricsLog.StartFailed(_logger, e);
            _listening.TrySetException(e);
        }
    }

    private async Task StartStepsAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        var parts = new Parts();
        lock (_gate)
        {
            if (_stopped)
            {
                _listening.TrySetCanceled();
                return;
            }

            _parts = parts;
        }

        var observed = new ObservedCounters(_meter, _node, _corral);
        if (Hosting.DiscoveryComposition.Of(_services) is { } discovery)
        {
            Discovery.DiscoveryInstruments.Create(_meter.Meter, discovery);
        }

        lock (_gate)
        {
            if (_stopped)
            {
                observed.Detach();
                _listening.TrySetCanceled();
                return;
            }

            parts.Observed = observed;
        }

        // Made here, not with the service: the OpenTelemetry SDK is not even loaded until the export starts.
        var exporter = new ScrapeExporter();
        MeterProvider provider = CreateMeterProvider(exporter);
        lock (_gate)
        {
            if (_stopped)
            {
                // Its last collection finds the instruments detached: the node is not read again.
                provider.Dispose();
                _listening.TrySetCanceled();
                return;
            }

            parts.Provider = provider;
        }

        double providerMs = stopwatch.Elapsed.TotalMilliseconds;
        if (_options.OtlpEndpoint is { } otlp)
        {
            MetricsLog.ExportingOtlp(_logger, _options.OtlpHttp ? "http/protobuf" : "grpc", otlp, _options.OtlpInterval.TotalMilliseconds);
        }

        if (_options.Listen is { } listen)
        {
            await StartServerAsync(listen, exporter, parts, providerMs, stopwatch).ConfigureAwait(false);
        }
    }

    private MeterProvider CreateMeterProvider(ScrapeExporter exporter)
    {
        MeterProviderBuilder builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("kaze", serviceVersion: typeof(MetricsService).Assembly.GetName().Version?.ToString(), serviceInstanceId: _ident))
            .AddMeter(_meter.Meter.Name);
        if (_options.Listen is not null)
        {
            builder.AddReader(new BaseExportingMetricReader(exporter));
        }

        if (_options.OtlpEndpoint is { } endpoint)
        {
            builder.AddOtlpExporter((otlp, reader) =>
            {
                otlp.Endpoint = endpoint;
                otlp.Protocol = _options.OtlpHttp ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                // Bounds the last export at shutdown, which kaze waits for.
                otlp.TimeoutMilliseconds = 5000;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)_options.OtlpInterval.TotalMilliseconds;
            });
        }

        return builder.Build();
    }

    private async Task StartServerAsync(NodeAddress listen, ScrapeExporter exporter, Parts parts, double providerMs, Stopwatch stopwatch)
    {
        KestrelServer? server = null;
        try
        {
            IPAddress ip = await ResolveAsync(listen).ConfigureAwait(false);
            var kestrel = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = _services };
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Listen(new IPEndPoint(ip, listen.Port), endpoint => endpoint.Protocols = HttpProtocols.Http1);
            var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), _loggers);
            server = new KestrelServer(Options.Create(kestrel), transport, _loggers);
            await server.StartAsync(new MetricsHttpApplication(exporter, _services.GetService(typeof(Health.SidecarReadiness)) as Health.SidecarReadiness), CancellationToken.None).ConfigureAwait(false);
            IPEndPoint bound = BoundEndPoint(server, ip);
            lock (_gate)
            {
                if (_stopped)
                {
                    server.Dispose();
                    _listening.TrySetCanceled();
                    return;
                }

                parts.Server = server;
            }

            MetricsLog.Serving(_logger, bound.ToString(), providerMs, stopwatch.Elapsed.TotalMilliseconds - providerMs);
            _listening.TrySetResult(bound);
        }
        catch (Exception e)
        {
            // Whatever failed (bind, resolve, Kestrel's own checks), it is this address that cannot be served.
            server?.Dispose();
            MetricsListenException failure = e as MetricsListenException ?? new MetricsListenException(listen.ToString(), Reason(e), e);
            MetricsLog.ListenFailed(_logger, failure, failure.Message);
            _listening.TrySetException(failure);
        }
    }

    private static async Task<IPAddress> ResolveAsync(NodeAddress listen)
    {
        if (IPAddress.TryParse(listen.Host, out IPAddress? ip))
        {
            return ip;
        }

        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(listen.Host).ConfigureAwait(false);
            return addresses.Length > 0
                ? addresses[0]
                : throw new MetricsListenException(listen.ToString(), $"the host name '{listen.Host}' has no address");
        }
        catch (SocketException e)
        {
            throw new MetricsListenException(listen.ToString(), $"cannot resolve '{listen.Host}': {e.Message}", e);
        }
    }

    private static IPEndPoint BoundEndPoint(KestrelServer server, IPAddress ip)
    {
        // Kestrel reports "http://HOST:PORT" with the port actually bound (the one chosen for port 0).
        string address = server.Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new IPEndPoint(ip, new Uri(address).Port);
    }

    /// <summary>Kestrel's own message names its URL; the innermost error says why in a few words.</summary>
    private static string Reason(Exception e)
    {
        Exception inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner.Message.TrimEnd('.');
    }

    /// <summary>
    /// What the background start made. Its own class so that a sidecar whose export never started
    /// does not load the OpenTelemetry SDK or Kestrel to stop it.
    /// </summary>
    private sealed class Parts
    {
        public ObservedCounters? Observed { get; set; }

        public MeterProvider? Provider { get; set; }

        public KestrelServer? Server { get; set; }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (Server is { } server)
            {
                await server.StopAsync(cancellationToken).ConfigureAwait(false);
                server.Dispose();
            }

            // The last OTLP export happens here, while the node can still be read.
            Provider?.Dispose();
            Observed?.Detach();
        }

        public void Dispose()
        {
            Server?.Dispose();
            Provider?.Dispose();
            Observed?.Detach();
        }
    }
}
