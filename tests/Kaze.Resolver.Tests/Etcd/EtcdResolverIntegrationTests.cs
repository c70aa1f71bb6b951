using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using Kaze.Protocol;
using Kaze.Resolver.Caching;
using Kaze.Resolver.Etcd;
using Kaze.Resolver.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kaze.Resolver.Tests.Etcd;

/// <summary>Against a real etcd started by each test on free loopback ports (skipped if etcd is not installed).</summary>
[Trait("Category", "Integration")]
public sealed class EtcdResolverIntegrationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan EtcdStart = TimeSpan.FromSeconds(30);

    private static EtcdResolverOptions Options(EtcdProcess etcd) => new()
    {
        Endpoints = [etcd.ClientUrl],
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    [EtcdFact]
    public async Task RegisterResolveMatch_RealEtcd_PeersSeeRegisteredNodes()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var registrar = new EtcdResolver(Options(etcd));
        await using var reader = new EtcdResolver(Options(etcd));
        var ttl = TimeSpan.FromSeconds(30);

        await registrar.RegisterAsync(Ident.Parse("0.0.0.1"), NodeAddress.Parse("127.0.0.1:7001"), ttl);
        await registrar.RegisterAsync(Ident.Parse("0.0.0.2"), NodeAddress.Parse("127.0.0.1:7002"), ttl);
        await registrar.RegisterAsync(Ident.Parse("0.0.0.10"), NodeAddress.Parse("[::1]:7010"), ttl);
        await registrar.RegisterAsync(Ident.Parse("0.0.1.1"), NodeAddress.Parse("node-b.example:7011"), ttl);

        // Lookups.
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7001"), await reader.ResolveAsync(Ident.Parse("0.0.0.1")));
        Assert.Equal(NodeAddress.Parse("[::1]:7010"), await reader.ResolveAsync(Ident.Parse("0.0.0.10")));
        Assert.Equal(NodeAddress.Parse("node-b.example:7011"), await reader.ResolveAsync(Ident.Parse("0.0.1.1")));
        Assert.Null(await reader.ResolveAsync(Ident.Parse("0.0.0.3")));

        // Matches: by ident, not by key order ("0.0.0.10" sorts before "0.0.0.2" as a key).
        Assert.Equal(["0.0.0.1", "0.0.0.2", "0.0.0.10", "0.0.1.1"], Names(await reader.MatchAsync(Ident.Any, 0)));
        Assert.Equal(["0.0.0.1", "0.0.0.2", "0.0.0.10"], Names(await reader.MatchAsync(Ident.Any, 0xFFFFFF00)));
        Assert.Equal(["0.0.1.1"], Names(await reader.MatchAsync(Ident.Parse("0.0.1.0"), 0xFFFFFF00)));
        Assert.Equal(["0.0.0.1"], Names(await reader.MatchAsync(Ident.Parse("0.0.0.1"), 0xFFFFFFFF)));
        Assert.Equal(["0.0.0.1", "0.0.1.1"], Names(await reader.MatchAsync(Ident.Parse("0.0.0.1"), 0x000000FF)));

        // Keys that are not Kaze's are ignored by matches; a node key holding garbage is an error naming it.
        await PutRawAsync(etcd, "/kaze/nodes/not-an-ident", "127.0.0.1:1");
        await PutRawAsync(etcd, "/kaze/nodes/0.0.0.99", "garbage");
        Assert.Equal(5, (await reader.MatchAsync(Ident.Any, 0)).Count);
        var garbage = await Assert.ThrowsAsync<ResolverException>(() => reader.ResolveAsync(Ident.Parse("0.0.0.99")).AsTask());
        Assert.Contains("/kaze/nodes/0.0.0.99", garbage.Message);

        // Another sidecar cannot take an ident held at another address; the same address is taken over.
        await using (var other = new EtcdResolver(Options(etcd)))
        {
            var conflict = await Assert.ThrowsAsync<ResolverException>(
                () => other.RegisterAsync(Ident.Parse("0.0.0.1"), NodeAddress.Parse("127.0.0.1:9999"), ttl));
            Assert.Contains("127.0.0.1:7001", conflict.Message);
            Assert.Equal(NodeAddress.Parse("127.0.0.1:7001"), await reader.ResolveAsync(Ident.Parse("0.0.0.1")));

            await other.RegisterAsync(Ident.Parse("0.0.0.2"), NodeAddress.Parse("127.0.0.1:7002"), ttl);
        }

        // other's DisposeAsync revoked its lease, which now holds 0.0.0.2.
        Assert.Null(await reader.ResolveAsync(Ident.Parse("0.0.0.2")));

        // Deregistering deletes the key at once.
        Assert.True(await registrar.DeregisterAsync(Ident.Parse("0.0.0.1")));
        Assert.False(await registrar.DeregisterAsync(Ident.Parse("0.0.0.1")));
        Assert.Null(await reader.ResolveAsync(Ident.Parse("0.0.0.1")));

        // Re-registering elsewhere replaces this resolver's own registration.
        await registrar.RegisterAsync(Ident.Parse("0.0.0.10"), NodeAddress.Parse("127.0.0.1:7100"), ttl);
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7100"), await reader.ResolveAsync(Ident.Parse("0.0.0.10")));

        // Disposing the registrar deregisters what is left.
        await registrar.DisposeAsync();
        Assert.Null(await reader.ResolveAsync(Ident.Parse("0.0.0.10")));
        Assert.Null(await reader.ResolveAsync(Ident.Parse("0.0.1.1")));
    }

    [EtcdFact]
    public async Task Register_SidecarDiesWithoutDeregistering_NodeDisappearsWhenTheLeaseExpires()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var registrar = new EtcdResolver(Options(etcd));
        await using var reader = new EtcdResolver(Options(etcd));
        var ident = Ident.Parse("0.0.0.5");
        var ttl = TimeSpan.FromSeconds(2);

        long registered = Stopwatch.GetTimestamp();
        await registrar.RegisterAsync(ident, NodeAddress.Parse("127.0.0.1:7005"), ttl);
        EtcdRegistration registration = registrar.FindRegistration(ident)!;

        // Renewals keep it alive past its TTL.
        await Eventually.True(
            () => registration.Renewals >= 2 && Stopwatch.GetElapsedTime(registered) > ttl + TimeSpan.FromSeconds(0.5),
            "two lease renewals and more than the TTL since registering",
            TimeSpan.FromSeconds(15),
            every: TimeSpan.FromMilliseconds(50));
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7005"), await reader.ResolveAsync(ident));

        // The process "dies": renewals stop, nothing is revoked.
        await registrar.AbandonRegistrationsAsync();
        long abandoned = Stopwatch.GetTimestamp();
        await Eventually.UntilAsync(
            async () => await reader.ResolveAsync(ident),
            address => address is null,
            $"etcd to delete {ident}'s key after its {ttl.TotalSeconds} s lease expired",
            TimeSpan.FromSeconds(15),
            every: TimeSpan.FromMilliseconds(100));
        TimeSpan gone = Stopwatch.GetElapsedTime(abandoned);

        output.WriteLine($"The key disappeared {gone.TotalSeconds:0.0} s after renewals stopped ({registration.Renewals} renewals, interval {registration.Interval.TotalSeconds:0.00} s).");
        Assert.InRange(gone, TimeSpan.Zero, ttl + TimeSpan.FromSeconds(3));
    }

    [EtcdFact]
    public async Task ResolveAsync_EtcdKilled_ThrowsNamingTheEndpointAndCacheServesStale()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var etcdResolver = new EtcdResolver(Options(etcd));
        var clock = new ManualTimeProvider();
        var cache = new CachingResolver(etcdResolver, new CachingResolverOptions(), null, clock);
        var ident = Ident.Parse("0.0.0.7");
        await PutRawAsync(etcd, "/kaze/nodes/0.0.0.7", "127.0.0.1:7007");
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7007"), await cache.ResolveAsync(ident));

        await etcd.KillAsync();

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => etcdResolver.ResolveAsync(ident).AsTask());
        output.WriteLine(exception.Message);
        Assert.Contains(etcd.ClientUrl.ToString(), exception.Message);

        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7007"), await cache.ResolveAsync(ident));
    }

    private static string[] Names(IReadOnlyList<Ident> idents) => [.. idents.Select(i => i.ToString())];

    /// <summary>A put straight through the gateway, as another tool (etcdctl, an operator) would write.</summary>
    private static async Task PutRawAsync(EtcdProcess etcd, string key, string value)
    {
        using var http = new HttpClient { Timeout = Deadline.Short };
        using HttpResponseMessage response = await http.PostAsJsonAsync(
            new Uri(etcd.ClientUrl, "/v3/kv/put"),
            new Dictionary<string, string>
            {
                ["key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)),
                ["value"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value)),
            });
        Assert.True(response.IsSuccessStatusCode, $"put {key}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
