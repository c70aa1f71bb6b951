using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kaze.Protocol;
using Kaze.Resolver.Etcd;
using Kaze.Resolver.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kaze.Resolver.Tests.Etcd;

/// <summary>Against a real etcd started by each test on free loopback ports (skipped if etcd is not installed).</summary>
[Trait("Category", "Integration")]
public sealed class EtcdRegistryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan EtcdStart = TimeSpan.FromSeconds(30);

    private static EtcdRegistryOptions Options(EtcdProcess etcd, int ttlSeconds = 10) => new()
    {
        Endpoints = [etcd.ClientUrl],
        Ttl = TimeSpan.FromSeconds(ttlSeconds),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private static NodeEntry Node(string text) => NodeEntry.Parse(text);

    [EtcdFact]
    public async Task Register_TwoRegistries_EachSeesTheOtherAndItsNames()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var a = new EtcdRegistry(Options(etcd));
        await using var b = new EtcdRegistry(Options(etcd));
        await a.StartAsync();
        await b.StartAsync();

        await a.RegisterAsync(Node("0.0.0.1=127.0.0.1:7001/orders"));
        await b.RegisterAsync(Node("0.0.0.2=127.0.0.1:7002/orders,billing"));

        foreach (EtcdRegistry registry in new[] { a, b })
        {
            await Eventually.True(() => registry.View.Count == 2, "both nodes in the view", details: () => Describe(registry.View));
            Assert.Equal(["0.0.0.1", "0.0.0.2"], Idents(registry.ResolveName("orders")));
            Assert.Equal(["0.0.0.2"], Idents(registry.ResolveName("billing")));
            Assert.Empty(registry.ResolveName("nobody"));

            // From the view, synchronously: no etcd on the call path.
            ValueTask<NodeAddress?> lookup = registry.ResolveAsync(Ident.Parse("0.0.0.2"));
            Assert.True(lookup.IsCompletedSuccessfully);
            Assert.Equal(NodeAddress.Parse("127.0.0.1:7002"), lookup.Result);
            Assert.Equal(["0.0.0.1", "0.0.0.2"], Idents(await registry.MatchAsync(Ident.Any, 0)));
        }

        string? value = await etcd.GetAsync("/kaze/nodes/0.0.0.2");
        output.WriteLine(value);
        Assert.Contains("\"address\":\"127.0.0.1:7002\"", value);
        Assert.Contains($"\"pid\":{Environment.ProcessId}", value);
        Assert.True(a.Status.Reachable);
        Assert.Equal(Ident.Parse("0.0.0.1"), a.Status.Registered?.Ident);
    }

    [EtcdFact]
    public async Task Register_IdentHeldByALiveRegistry_IsRefusedNamingTheHolder()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var holder = new EtcdRegistry(Options(etcd, ttlSeconds: 3));
        await holder.RegisterAsync(Node("0.0.0.1=127.0.0.1:7001/orders"));
        await using var other = new EtcdRegistry(Options(etcd, ttlSeconds: 3));

        long start = Stopwatch.GetTimestamp();
        IdentHeldException refused = await Assert.ThrowsAsync<IdentHeldException>(
            () => other.RegisterAsync(Node("0.0.0.1=127.0.0.1:9999")).Within("the second registration of 0.0.0.1 to be refused"));
        output.WriteLine($"{Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s: {refused.Message}");

        Assert.Contains("127.0.0.1:7001", refused.Message);
        Assert.Contains($"pid {Environment.ProcessId}", refused.Message);
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7001"), refused.Holder.Address);
        Assert.Equal(["orders"], refused.Holder.Names);
        Assert.Equal(Environment.ProcessId, refused.HolderPid);
        Assert.Contains("127.0.0.1:7001", await etcd.GetAsync("/kaze/nodes/0.0.0.1"));
    }

    [EtcdFact]
    public async Task Dispose_RevokesTheLease_WatchersSeeTheNodeGoAtOnce()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var watcher = new EtcdRegistry(Options(etcd));
        await watcher.StartAsync();
        var registry = new EtcdRegistry(Options(etcd, ttlSeconds: 60));
        await registry.RegisterAsync(Node("0.0.0.3=127.0.0.1:7003/orders"));
        await Eventually.True(() => watcher.ResolveName("orders").Count == 1, "the watcher to see 0.0.0.3");
        var removals = new List<RegistryChange>();
        watcher.Changed += change =>
        {
            lock (removals)
            {
                removals.Add(change);
            }
        };

        long disposed = Stopwatch.GetTimestamp();
        await registry.DisposeAsync();
        await Eventually.True(() => watcher.ResolveName("orders").Count == 0, "the watcher to see 0.0.0.3 gone after its lease was revoked", TimeSpan.FromSeconds(5));
        TimeSpan seen = Stopwatch.GetElapsedTime(disposed);
        output.WriteLine($"Gone from the watcher's view {seen.TotalMilliseconds:0} ms after DisposeAsync started (TTL 60 s).");

        Assert.Null(await etcd.GetAsync("/kaze/nodes/0.0.0.3"));
        lock (removals)
        {
            Assert.Contains(removals, c => c.Removed.Any(n => n.Ident == Ident.Parse("0.0.0.3")));
        }
    }

    [EtcdFact]
    public async Task Register_ProcessDiesWithoutRevoking_EntryGoesWhenTheLeaseEnds_AndTheIdentCanBeTakenAgain()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var watcher = new EtcdRegistry(Options(etcd));
        await watcher.StartAsync();
        await using var dead = new EtcdRegistry(Options(etcd, ttlSeconds: 2));
        await dead.RegisterAsync(Node("0.0.0.5=127.0.0.1:7005"));
        await Eventually.True(() => watcher.View.Count == 1, "the watcher to see 0.0.0.5");

        // Renewals keep it past its TTL.
        long registered = Stopwatch.GetTimestamp();
        await Eventually.True(() => Stopwatch.GetElapsedTime(registered) > TimeSpan.FromSeconds(3), "more than the TTL to pass", every: TimeSpan.FromMilliseconds(50));
        Assert.Equal(1, watcher.View.Count);

        // "Dies": renewals stop, nothing is revoked: the entry goes when the lease ends.
        await dead.AbandonRegistrationAsync();
        long abandoned = Stopwatch.GetTimestamp();
        await Eventually.True(() => watcher.View.Count == 0, "the watcher to see 0.0.0.5 gone when its 2 s lease ended", TimeSpan.FromSeconds(10));
        output.WriteLine($"Gone {Stopwatch.GetElapsedTime(abandoned).TotalSeconds:0.0} s after renewals stopped (TTL 2 s).");

        // Dies again; a successor for the same ident waits the stale entry out instead of being refused.
        await using var again = new EtcdRegistry(Options(etcd, ttlSeconds: 2));
        await again.RegisterAsync(Node("0.0.0.5=127.0.0.1:7005"));
        await again.AbandonRegistrationAsync();
        await using var successor = new EtcdRegistry(Options(etcd, ttlSeconds: 2));
        long taking = Stopwatch.GetTimestamp();
        await successor.RegisterAsync(Node("0.0.0.5=127.0.0.1:7055")).Within("the successor to register 0.0.0.5 once the stale entry was gone");
        output.WriteLine($"The successor registered {Stopwatch.GetElapsedTime(taking).TotalSeconds:0.0} s after it started.");
        await Eventually.True(
            () => watcher.ResolveAsync(Ident.Parse("0.0.0.5")).Result == NodeAddress.Parse("127.0.0.1:7055"),
            "the watcher to see the successor's address");
    }

    [EtcdFact]
    public async Task Watch_ForeignAndMalformedKeys_AreIgnoredCountedAndLoggedAtABoundedRate()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        var logger = new ListLogger<EtcdRegistry>();
        await using var registry = new EtcdRegistry(Options(etcd), logger);
        await etcd.PutAsync("/kaze/nodes/0.0.0.7", "127.0.0.1:7007");
        await etcd.PutAsync("/kaze/nodes/not-an-ident", "{\"address\":\"127.0.0.1:1\"}");
        await registry.StartAsync();
        Assert.Equal(1, registry.View.Count);
        Assert.Equal(1, registry.Status.MalformedEntries);

        const int Bad = 60;
        string[] garbage = ["garbage", "{\"address\":\"nope\"}", "{\"address\":\"127.0.0.1:1\",\"names\":[\"UPPER\"]}", "{\"names\":[]}", "[1,2]", new string('x', 5000), "{\"address\":\"127.0.0.1:1\",\"names\":[1]}"];
        for (int i = 0; i < Bad; i++)
        {
            await etcd.PutAsync($"/kaze/nodes/0.0.1.{i}", garbage[i % garbage.Length]);
        }

        await etcd.PutAsync("/kaze/nodes/0.0.2.1", "{\"address\":\"127.0.0.1:7021\",\"names\":[\"orders\"],\"future\":{\"field\":1}}");
        await Eventually.True(() => registry.ResolveName("orders").Count == 1, "the well-formed entry after the garbage to be seen");

        Assert.Equal(2, registry.View.Count);
        Assert.Equal(1 + Bad, registry.Status.MalformedEntries);
        int lines = logger.Count(515);
        output.WriteLine($"{Bad} malformed entries, {lines} log lines; e.g. {logger.Entries.First(e => e.Id.Id == 515).Message}");
        Assert.InRange(lines, 1, Bad / 2);
    }

    [EtcdFact]
    public async Task EtcdKilledAndRestarted_ViewKept_ThenResynced_AndTheEntryStays()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var registry = new EtcdRegistry(Options(etcd, ttlSeconds: 3));
        await registry.StartAsync();
        await registry.RegisterAsync(Node("0.0.0.1=127.0.0.1:7001/orders"));
        await etcd.PutAsync("/kaze/nodes/0.0.0.2", "{\"address\":\"127.0.0.1:7002\",\"names\":[\"orders\"]}");
        await Eventually.True(() => registry.ResolveName("orders").Count == 2, "both members of orders");

        await etcd.KillAsync();
        await Eventually.True(() => !registry.Status.Reachable, "the registry to notice etcd is gone", TimeSpan.FromSeconds(20));
        output.WriteLine(registry.Status.LastError);
        Assert.Contains(etcd.ClientUrl.GetLeftPart(UriPartial.Authority), registry.Status.LastError);
        Assert.Equal(2, registry.ResolveName("orders").Count);

        await etcd.RestartAsync(EtcdStart);
        await Eventually.True(() => registry.Status.Reachable, "the registry to reach etcd again", TimeSpan.FromSeconds(20), details: () => registry.Status.ToString());
        await etcd.PutAsync("/kaze/nodes/0.0.0.3", "{\"address\":\"127.0.0.1:7003\",\"names\":[\"orders\"]}");
        await Eventually.True(() => registry.ResolveName("orders").Count == 3, "a node added after the restart");
        Assert.Contains("127.0.0.1:7001", await etcd.GetAsync("/kaze/nodes/0.0.0.1"));
    }

    [EtcdFact]
    public async Task LeaseRevokedBehindItsBack_EntryIsWrittenAgain()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync(EtcdStart);
        await using var registry = new EtcdRegistry(Options(etcd, ttlSeconds: 3));
        await registry.RegisterAsync(Node("0.0.0.1=127.0.0.1:7001"));
        long lease = registry.Status.LeaseId;

        // An operator revokes the lease (etcdctl lease revoke): the entry goes, the next renewal finds out.
        await etcd.DeleteAsync("/kaze/nodes/0.0.0.1");
        using (var http = new HttpClient())
        {
            using HttpResponseMessage response = await http.PostAsync(new Uri(etcd.ClientUrl, "/v3/lease/revoke"), new StringContent($"{{\"ID\":\"{lease}\"}}"));
            Assert.True(response.IsSuccessStatusCode);
        }

        await Eventually.True(() => registry.Status.Reregistrations == 1, "the registry to register again under a new lease", TimeSpan.FromSeconds(10));
        Assert.NotEqual(lease, registry.Status.LeaseId);
        Assert.Contains("127.0.0.1:7001", await etcd.GetAsync("/kaze/nodes/0.0.0.1"));
    }

    [Fact]
    public async Task StartAsync_NothingListens_ThrowsNamingTheEndpointWithinTheTimeout()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        await using var registry = new EtcdRegistry(new EtcdRegistryOptions { Endpoints = [new Uri($"http://127.0.0.1:{port}")], RequestTimeout = TimeSpan.FromSeconds(2) });
        RegistryUnavailableException failure = await Assert.ThrowsAsync<RegistryUnavailableException>(() => registry.StartAsync().Within("StartAsync to fail"));
        output.WriteLine(failure.Message);
        Assert.Contains($"http://127.0.0.1:{port}", failure.Message);
    }

    [Fact]
    public void Options_Invalid_EveryProblemIsListed()
    {
        var options = new EtcdRegistryOptions
        {
            Endpoints = [new Uri("ftp://x:1"), new Uri("http://a:1/path"), new Uri("https://b:2")],
            Ttl = TimeSpan.FromSeconds(1),
            Username = "root",
            ClientCertificateFile = "/nonexistent.pem",
        };

        var exception = Assert.Throws<ArgumentException>(() => new EtcdRegistry(options));

        Assert.Contains("'ftp://x:1/' is not an http:// or https:// URL", exception.Message);
        Assert.Contains("http://a:1/path", exception.Message);
        Assert.Contains("Ttl", exception.Message);
        Assert.Contains("Username and Password", exception.Message);
        Assert.Contains("ClientCertificateFile and ClientKeyFile", exception.Message);
        Assert.Contains("/nonexistent.pem", exception.Message);
    }

    private static string[] Idents(IReadOnlyList<Ident> idents) => [.. idents.Select(i => i.ToString())];

    private static string Describe(NodeTable view) => string.Join("; ", view.Entries.Select(e => e.ToString()));
}
