using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Kaze.Http.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Kaze.Http.Egress;

/// <summary>
/// Kestrel on 127.0.0.1:<c>http:port</c>, speaking HTTP/1.1 and cleartext HTTP/2 on the one port.
/// </summary>
/// <remarks>
/// <para>
/// Kestrel picks HTTP/1.1 for every cleartext connection of an endpoint that allows both (there is
/// no ALPN to choose by). gRPC clients dial <c>http://</c> with HTTP/2 "prior knowledge": the
/// connection opens with the 24-byte HTTP/2 preface. So the port's own endpoint is HTTP/1.1 only,
/// with a connection middleware that looks at the first bytes (without consuming them) and hands
/// a connection that starts with the preface to the pipeline of a second, HTTP/2-only endpoint.
/// That endpoint exists only for its pipeline: it is bound to an <see cref="UnboundEndPoint"/> that
/// accepts nothing (<see cref="Transport"/>).
/// </para>
/// <para>
/// Started directly (<see cref="KestrelServer"/> and the socket transport), not through
/// WebApplication: no routing, no second container; the whole app is <see cref="EgressApplication"/>.
/// </para>
/// </remarks>
internal sealed class EgressServer(HttpGateway gateway, IServiceProvider services) : IAsyncDisposable
{
    // How long a stop waits for requests in flight before they are aborted.
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(1);

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private KestrelServer? _server;

    // The HTTP/2 endpoint's connection pipeline, captured when Kestrel builds it.
    private ConnectionDelegate? _http2;

    /// <summary>The port bound; null before the start.</summary>
    public int? BoundPort { get; private set; }

    public async Task StartAsync(int port, CancellationToken cancellationToken)
    {
        HttpGatewayOptions options = gateway.Options;
        var kestrel = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = services };
        kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodySize;
        // The request line is checked by the app against the documented limit (a 400 that says so);
        // Kestrel's own limit, twice that, only stops what is far over.
        kestrel.Limits.MaxRequestLineSize = 2 * HttpLimits.MaxRequestLine;
        kestrel.Limits.MaxRequestHeadersTotalSize = HttpLimits.MaxFieldBytes;
        kestrel.Limits.MaxRequestHeaderCount = HttpLimits.MaxFieldLines;
        kestrel.Limits.MaxConcurrentConnections = 4 * options.MaxExchanges;
        kestrel.Limits.Http2.MaxStreamsPerConnection = Math.Min(100, options.MaxExchanges);
        // Field values are octets: carried one character per octet, as HTTP/1.1 has them.
        kestrel.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
        kestrel.ResponseHeaderEncodingSelector = _ => Encoding.Latin1;
        kestrel.Listen(new UnboundEndPoint(), listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(next => _http2 = next);
        });
        kestrel.Listen(new IPEndPoint(IPAddress.Loopback, port), listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => connection => SelectProtocolAsync(connection, next));
        });

        var transport = new Transport(new SocketTransportFactory(Microsoft.Extensions.Options.Options.Create(new SocketTransportOptions()), gateway.Loggers));
        var server = new KestrelServer(Microsoft.Extensions.Options.Options.Create(kestrel), transport, gateway.Loggers);
        try
        {
            await server.StartAsync(new EgressApplication(gateway), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            throw;
        }

        _server = server;
        string address = server.Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://127.0.0.1", StringComparison.Ordinal));
        BoundPort = new Uri(address).Port;
        HttpLog.Listening(gateway.Logger, "127.0.0.1:" + BoundPort, BoundPort.Value);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not { } server)
        {
            return;
        }

        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(StopGrace);
        await server.StopAsync(grace.Token).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _server?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>HTTP/2 if the connection opens with the preface, else HTTP/1.1; the bytes looked at stay unread.</summary>
    private async Task SelectProtocolAsync(ConnectionContext connection, ConnectionDelegate http1)
    {
        PipeReader input = connection.Transport.Input;
        byte[] start = new byte[Preface.Length];
        while (true)
        {
            ReadResult result = await input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int length = (int)Math.Min(buffer.Length, Preface.Length);
            buffer.Slice(0, length).CopyTo(start);
            bool matches = start.AsSpan(0, length).SequenceEqual(Preface[..length]);
            if (!matches || length == Preface.Length || result.IsCompleted || result.IsCanceled)
            {
                // Examined nothing: the protocol reads the same bytes again.
                input.AdvanceTo(buffer.Start, buffer.Start);
                await (matches && length == Preface.Length ? _http2! : http1)(connection).ConfigureAwait(false);
                return;
            }

            // A prefix of the preface so far: wait for more bytes.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>An endpoint that is never bound: the HTTP/2 endpoint exists only for its pipeline.</summary>
    private sealed class UnboundEndPoint : EndPoint
    {
        public override string ToString() => "unbound";
    }

    /// <summary>The socket transport, and a listener that accepts nothing for the <see cref="UnboundEndPoint"/>.</summary>
    private sealed class Transport(SocketTransportFactory sockets) : IConnectionListenerFactory, IConnectionListenerFactorySelector
    {
        public bool CanBind(EndPoint endpoint) => true;

        public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            endpoint is UnboundEndPoint ? new(new NoListener(endpoint)) : sockets.BindAsync(endpoint, cancellationToken);
    }

    private sealed class NoListener(EndPoint endpoint) : IConnectionListener
    {
        private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndPoint EndPoint => endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            await _unbound.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>The whole HTTP application of the loopback port: every request goes to <see cref="EgressHandler"/>.</summary>
internal sealed class EgressApplication(HttpGateway gateway) : IHttpApplication<HttpContext>
{
    private readonly EgressHandler _handler = new(gateway);

    public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

    public Task ProcessRequestAsync(HttpContext context) => _handler.HandleAsync(context);

    public void DisposeContext(HttpContext context, Exception? exception)
    {
    }
}
