using System.Runtime.CompilerServices;
using Kaze.Http;
using Kaze.Sidecar.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Sidecar.Hosting;

/// <summary>
/// Adds the HTTP gateway (Kaze.Http) to a sidecar with a host, when an <c>http:*</c> port is set.
/// </summary>
/// <remarks>
/// Every method here is the only place its caller touches Kaze.Http, and is never inlined: a
/// sidecar without HTTP settings never calls them, so neither Kaze.Http nor YARP nor ASP.NET is
/// loaded (the start of `kaze run` stays as it was). A Native AOT build can leave this file out.
/// </remarks>
internal static class HttpComposition
{
    /// <summary>The gateway, YARP's forwarder, and the hosted service that starts the gateway after the node (and stops it before).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void AddServices(IServiceCollection services, HttpSettings settings)
    {
        var options = new HttpGatewayOptions
        {
            AppPort = settings.AppPort,
            Port = settings.Port,
            Timeout = settings.Timeout,
            Window = settings.Window,
            BufferBudget = settings.BufferBudget,
            MaxExchanges = settings.MaxExchanges,
            MaxRequestBodySize = settings.MaxRequestBodySize,
            MaxCallBodySize = settings.MaxCallBodySize,
            AppProtocol = settings.AppProtocol switch
            {
                "http1" => HttpAppProtocol.Http1,
                "http2" => HttpAppProtocol.Http2,
                _ => HttpAppProtocol.Auto,
            },
        };
        services.AddHttpForwarder();
        services.AddSingleton(sp => new HttpGateway(options, sp.GetRequiredService<IHttpForwarder>(), sp.GetRequiredService<ILoggerFactory>(), sp));
        services.AddSingleton<IHostedService>(sp => new GatewayService(sp.GetRequiredService<HttpGateway>()));
    }

    /// <summary>Attaches the gateway to the node (before the node starts): packets for it go to it, and it sends through the node.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Attach(IServiceProvider services)
    {
        HttpGateway gateway = services.GetRequiredService<HttpGateway>();
        gateway.Connect(services.GetRequiredService<SidecarNode>().Attach(gateway));
    }

    /// <summary>The loopback port bound for the host, once started; null without one.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int? Port(IServiceProvider services) => services.GetService<HttpGateway>()?.Port;

    /// <summary>Starts the gateway after the node and the corral, stops it before them.</summary>
    private sealed class GatewayService(HttpGateway gateway) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                await gateway.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new HttpListenException(e.InnerException?.Message ?? e.Message, e);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => gateway.StopAsync(cancellationToken);
    }
}

/// <summary>The HTTP gateway's loopback port (http:port) could not be bound; the message names the address and why.</summary>
public sealed class HttpListenException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HttpListenException(string message, Exception? inner = null)
        : base("http:port: " + message, inner)
    {
    }
}
