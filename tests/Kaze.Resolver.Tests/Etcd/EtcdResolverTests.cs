using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Kaze.Protocol;
using Kaze.Resolver.Etcd;
using Kaze.Resolver.Tests.Infrastructure;

namespace Kaze.Resolver.Tests.Etcd;

/// <summary>The gateway client against canned answers (shapes as etcd 3.4 sends them) and a port with nobody behind it.</summary>
public sealed class EtcdResolverTests
{
    // Answers copied from etcd 3.4.23's gateway, keys and values base64.
    private const string Header = "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\",\"revision\":\"4\",\"raft_term\":\"2\"}";

    private static EtcdResolverOptions Options(params string[] endpoints) => new()
    {
        Endpoints = [.. endpoints.Select(e => new Uri(e))],
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task ResolveAsync_NothingListening_ThrowsNamingTheEndpoint()
    {
        int port = ClosedLoopbackPort();
        await using var resolver = new EtcdResolver(Options($"http://127.0.0.1:{port}"));

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => resolver.ResolveAsync(new Ident(1)).AsTask());

        Assert.Contains($"http://127.0.0.1:{port}/", exception.Message);
        Assert.Contains("unreachable", exception.Message);
        Assert.Equal([new Uri($"http://127.0.0.1:{port}/")], exception.Endpoints);
        Assert.Null(exception.ErrorCode);
    }

    [Fact]
    public async Task ResolveAsync_KeyPresent_SendsBase64KeyAndParsesTheValue()
    {
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(StubHttpHandler.Json(HttpStatusCode.OK,
            $"{{{Header},\"kvs\":[{{\"key\":\"{B64("/kaze/nodes/0.0.0.1")}\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"{B64("127.0.0.1:6081")}\",\"lease\":\"2324035521631372808\"}}],\"count\":\"1\"}}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379"), handler, disposeHandler: true, null, null);

        NodeAddress? address = await resolver.ResolveAsync(new Ident(1));

        Assert.Equal(new NodeAddress("127.0.0.1", 6081), address);
        (Uri uri, string body) = Assert.Single(handler.Requests);
        Assert.Equal("http://etcd-a:2379/v3/kv/range", uri.ToString());
        Assert.Equal($"{{\"key\":\"{B64("/kaze/nodes/0.0.0.1")}\"}}", body);
    }

    [Fact]
    public async Task ResolveAsync_KeyAbsent_Null()
    {
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(StubHttpHandler.Json(HttpStatusCode.OK, $"{{{Header}}}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379"), handler, disposeHandler: true, null, null);

        Assert.Null(await resolver.ResolveAsync(new Ident(1)));
    }

    [Fact]
    public async Task ResolveAsync_ValueNotAnAddress_ThrowsNamingTheKey()
    {
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(StubHttpHandler.Json(HttpStatusCode.OK,
            $"{{{Header},\"kvs\":[{{\"key\":\"{B64("/kaze/nodes/0.0.0.1")}\",\"value\":\"{B64("garbage")}\"}}],\"count\":\"1\"}}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379"), handler, disposeHandler: true, null, null);

        var exception = await Assert.ThrowsAsync<ResolverException>(() => resolver.ResolveAsync(new Ident(1)).AsTask());

        Assert.Contains("/kaze/nodes/0.0.0.1", exception.Message);
        Assert.Contains("'garbage'", exception.Message);
    }

    [Fact]
    public async Task MatchAsync_Keys_RangeOverPrefixKeysOnlyAndSortsByIdent()
    {
        string kvs = string.Join(",", new[] { "0.0.1.10", "0.0.1.2", "0.0.1.x", "0.0.1.20" }.Select(k => $"{{\"key\":\"{B64("/kaze/nodes/" + k)}\"}}"));
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(StubHttpHandler.Json(HttpStatusCode.OK, $"{{{Header},\"kvs\":[{kvs}],\"count\":\"4\"}}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379"), handler, disposeHandler: true, null, null);

        IReadOnlyList<Ident> found = await resolver.MatchAsync(Ident.Parse("0.0.1.0"), 0xFFFFFF00);

        Assert.Equal(["0.0.1.2", "0.0.1.10", "0.0.1.20"], found.Select(i => i.ToString()));
        using JsonDocument request = JsonDocument.Parse(Assert.Single(handler.Requests).Body);
        Assert.Equal(B64("/kaze/nodes/0.0.1."), request.RootElement.GetProperty("key").GetString());
        Assert.Equal(B64("/kaze/nodes/0.0.1/"), request.RootElement.GetProperty("range_end").GetString());
        Assert.True(request.RootElement.GetProperty("keys_only").GetBoolean());
    }

    [Fact]
    public async Task ResolveAsync_FirstEndpointDown_AnswersFromTheNextAndPrefersIt()
    {
        var handler = new StubHttpHandler((request, _, _) => request.RequestUri!.Host == "etcd-a"
            ? throw new HttpRequestException("Connection refused")
            : Task.FromResult(StubHttpHandler.Json(HttpStatusCode.OK, $"{{{Header}}}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379", "http://etcd-b:2379"), handler, disposeHandler: true, null, null);

        Assert.Null(await resolver.ResolveAsync(new Ident(1)));
        Assert.Null(await resolver.ResolveAsync(new Ident(2)));

        Assert.Equal(["etcd-a", "etcd-b", "etcd-b"], handler.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task ResolveAsync_EveryEndpointDown_MessageNamesEachWithItsReason()
    {
        var handler = new StubHttpHandler((request, _, _) => throw new HttpRequestException($"refused by {request.RequestUri!.Host}"));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379", "http://etcd-b:2379"), handler, disposeHandler: true, null, null);

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => resolver.ResolveAsync(new Ident(1)).AsTask());

        Assert.Contains("http://etcd-a:2379/ (refused by etcd-a)", exception.Message);
        Assert.Contains("http://etcd-b:2379/ (refused by etcd-b)", exception.Message);
    }

    [Fact]
    public async Task ResolveAsync_NoAnswerWithinTimeout_MessageNamesEndpointAndTimeout()
    {
        var handler = new StubHttpHandler(async (_, _, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        });
        EtcdResolverOptions options = Options("http://etcd-a:2379");
        options.RequestTimeout = TimeSpan.FromMilliseconds(200);
        await using var resolver = new EtcdResolver(options, handler, disposeHandler: true, null, null);

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(
            () => resolver.ResolveAsync(new Ident(1)).AsTask().Within("the lookup to time out", Deadline.Short));

        Assert.Contains("http://etcd-a:2379/ (no answer to POST /v3/kv/range within 0.2 s)", exception.Message);
    }

    [Fact]
    public async Task ResolveAsync_ErrorAnswer_MessageQuotesEtcdAndKeepsTheCode()
    {
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(StubHttpHandler.Json(HttpStatusCode.ServiceUnavailable,
            "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no leader\",\"code\":14}")));
        await using var resolver = new EtcdResolver(Options("http://etcd-a:2379"), handler, disposeHandler: true, null, null);

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => resolver.ResolveAsync(new Ident(1)).AsTask());

        Assert.Equal("etcd at http://etcd-a:2379/ answered POST /v3/kv/range with HTTP 503: etcdserver: no leader", exception.Message);
        Assert.Equal(14, exception.ErrorCode);
    }

    [Fact]
    public async Task ResolveAsync_NotAGateway_MessageSaysSo()
    {
        var handler = new StubHttpHandler((_, _, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>hello</html>") }));
        await using var resolver = new EtcdResolver(Options("http://web:80"), handler, disposeHandler: true, null, null);

        var exception = await Assert.ThrowsAsync<RegistryUnavailableException>(() => resolver.ResolveAsync(new Ident(1)).AsTask());

        Assert.Contains("http://web/ answered POST /v3/kv/range with something that is not etcd's JSON gateway", exception.Message);
        Assert.Contains("<html>hello</html>", exception.Message);
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var options = new EtcdResolverOptions
        {
            Endpoints = [new Uri("ftp://x/"), new Uri("relative", UriKind.Relative)],
            Prefix = null!,
            RequestTimeout = TimeSpan.Zero,
        };

        var exception = Assert.Throws<ArgumentException>(() => new EtcdResolver(options));

        Assert.Equal(4, options.Validate().Count);
        Assert.Contains("ftp://x/", exception.Message);
        Assert.Contains("'relative'", exception.Message);
        Assert.Contains("Prefix", exception.Message);
        Assert.Contains("RequestTimeout", exception.Message);
    }

    [Fact]
    public async Task Endpoints_NoneGiven_DefaultsToLocalEtcd()
    {
        await using var resolver = new EtcdResolver(new EtcdResolverOptions());

        Assert.Equal([new Uri("http://127.0.0.1:2379/")], resolver.Endpoints);
        Assert.Equal("/kaze/nodes/", resolver.NodesPrefix);
    }

    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
