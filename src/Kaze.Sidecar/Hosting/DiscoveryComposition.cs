using System.Runtime.CompilerServices;
using Kaze.Mesh;
using Kaze.Resolver;
using Kaze.Resolver.Static;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Discovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Hosting;

/// <summary>
/// Adds discovery on etcd (<see cref="EtcdDiscovery"/>) to a sidecar whose
/// <c>discovery:etcd:endpoints</c> is set: the resolver becomes the static nodes, then etcd's view.
/// </summary>
/// <remarks>
/// The only code that touches the etcd client, never inlined: without etcd settings neither the
/// registry nor gRPC is loaded, and the start of `kaze run` stays as it was.
/// </remarks>
internal static class DiscoveryComposition
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void AddServices(IServiceCollection services, KazeSettings settings)
    {
        Kaze.Resolver.Etcd.EtcdRegistryOptions options = settings.Etcd!;
        services.AddSingleton(sp => new EtcdDiscovery(options, sp.GetRequiredService<StaticResolver>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IResolver>(sp => new ChainResolver(sp.GetRequiredService<StaticResolver>(), sp.GetRequiredService<EtcdDiscovery>().Registry));
    }

    /// <summary>The discovery of a sidecar, or null without etcd.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static EtcdDiscovery? Of(IServiceProvider services) => services.GetService<EtcdDiscovery>();

    /// <summary>
    /// Loads the view, watches, and registers this node (when it accepts other sidecars) at
    /// discovery:advertise, or at the listen address with the port bound.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task StartAsync(IServiceProvider services, SidecarNode node, PeerCorral corral, KazeSettings settings, bool listening, CancellationToken cancellationToken)
    {
        EtcdDiscovery discovery = services.GetRequiredService<EtcdDiscovery>();
        NodeEntry? self = null;
        NodeAddress? address = settings.Get(SettingsCatalog.Advertise)
            ?? (listening && settings.Listen is { } listen ? new NodeAddress(listen.Host, corral.LocalEndPoint.Port) : null);
        if (address is { } advertised)
        {
            self = new NodeEntry(settings.Ident, advertised) { Names = settings.Names };
        }

        await discovery.StartAsync(node, corral, self, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deregisters (revokes the lease) and stops watching.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ValueTask StopAsync(IServiceProvider services) => services.GetRequiredService<EtcdDiscovery>().DisposeAsync();
}
