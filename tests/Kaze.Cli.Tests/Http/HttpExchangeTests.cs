using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Kaze.TestHttpApp.Greet;
using Xunit;

namespace Kaze.Cli.Tests.Http;

/// <summary>
/// Unmodified HTTP clients and apps through two sidecars (docs/http.md): curl and HttpClient call
/// http://127.0.0.1:KAZE_HTTP_PORT/0.0.2.2/..., the callee's sidecar forwards to its app.
/// </summary>
[Collection(HttpCollection.Name)]
public sealed class HttpExchangeTests : IDisposable
{
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(60);
    private readonly HttpPair _pair = HttpPair.Create();

    public void Dispose() => _pair.Dispose();

    [Fact]
    public async Task Download_PythonHttpServer_ArrivesIntact()
    {
        byte[] file = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        await File.WriteAllBytesAsync(Path.Combine(_pair.Files, "file.bin"), file);
        await _pair.StartAsync(CalleeApp.Python);
        string output = Path.Combine(_pair.Directory, "out.bin");

        (int code, string stdout, string stderr) = await Curl.RunAsync(["-o", output, "-w", "%{http_code}", _pair.CalleeUrl + "/file.bin"], "downloading 3 MiB through two sidecars", Transfer);

        Assert.True(code == 0, $"curl failed ({code}): {stderr}\n{_pair.Callee.Describe()}");
        Assert.Equal("200", stdout);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(file)), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(output))));
    }

    [Fact]
    public async Task Post_WithLengthAndChunked_ArrivesIntact()
    {
        byte[] body = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 5);
        string input = Path.Combine(_pair.Directory, "in.bin");
        await File.WriteAllBytesAsync(input, body);
        await _pair.StartAsync(CalleeApp.TestApp);
        string expected = Convert.ToHexStringLower(SHA256.HashData(body)) + " " + body.Length.ToString(CultureInfo.InvariantCulture);

        (int code, string stdout, string stderr) = await Curl.RunAsync(["--data-binary", "@" + input, _pair.CalleeUrl + "/sha256"], "posting 3 MiB", Transfer);
        Assert.True(code == 0, $"curl failed ({code}): {stderr}");
        Assert.Equal(expected, stdout);

        (code, stdout, stderr) = await Curl.RunAsync(["-H", "Transfer-Encoding: chunked", "--data-binary", "@" + input, _pair.CalleeUrl + "/sha256"], "posting 3 MiB chunked", Transfer);
        Assert.True(code == 0, $"curl failed ({code}): {stderr}");
        Assert.Equal(expected, stdout);

        // A small body goes in the head's packet; an empty one too.
        using var client = new HttpClient();
        HttpResponseMessage small = await client.PostAsync(_pair.CalleeUrl + "/echo", new StringContent("small body")).Within("a small POST");
        Assert.Equal("small body", await small.Content.ReadAsStringAsync());
        HttpResponseMessage empty = await client.PostAsync(_pair.CalleeUrl + "/sha256", new ByteArrayContent([])).Within("an empty POST");
        Assert.EndsWith(" 0", await empty.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Request_MethodPathQueryAndFields_ArriveAsAProxyForwards()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        // Field values are octets: one above 0x7F (Latin-1 é) arrives as it was sent.
        using var client = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1 });
        using var request = new HttpRequestMessage(HttpMethod.Get, _pair.CalleeUrl + "/headers?a=1&b=%20x");
        request.Headers.TryAddWithoutValidation("X-Custom", ["one", "two"]);
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        request.Headers.TryAddWithoutValidation("X-Latin", "caf\u00e9");

        HttpResponseMessage response = await client.SendAsync(request).Within("GET /headers through two sidecars");
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(text.Contains("path: /headers?a=1&b=%20x\n", StringComparison.Ordinal), "missing " + "path: /headers?a=1&b=%20x\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains("method: GET\n", StringComparison.Ordinal), "missing " + "method: GET\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains("x-custom: one, two\n", StringComparison.Ordinal), "missing " + "x-custom: one, two\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains("x-latin: caf\u00e9\n", StringComparison.Ordinal), "missing " + "x-latin: caf\u00e9\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains("x-forwarded-for: 127.0.0.1\n", StringComparison.Ordinal), "missing " + "x-forwarded-for: 127.0.0.1\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains("x-forwarded-proto: http\n", StringComparison.Ordinal), "missing " + "x-forwarded-proto: http\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains($"x-forwarded-host: 127.0.0.1:{_pair.HttpPort}\n", StringComparison.Ordinal), "missing " + $"x-forwarded-host: 127.0.0.1:{_pair.HttpPort}\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains($"x-forwarded-prefix: /{HttpPair.CalleeIdent}\n", StringComparison.Ordinal), "missing " + $"x-forwarded-prefix: /{HttpPair.CalleeIdent}\n" + " in what the app saw:\n" + text);
        Assert.True(text.Contains($"host: 127.0.0.1:{_pair.CalleeAppPort}\n", StringComparison.Ordinal), "missing " + $"host: 127.0.0.1:{_pair.CalleeAppPort}\n" + " in what the app saw:\n" + text);
        Assert.DoesNotContain("keep-alive:", text);

        HttpResponseMessage missing = await client.GetAsync(_pair.CalleeUrl + "/no/such/page").Within("GET of a page the app does not have");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.False(missing.Headers.Contains("Kaze-Error"), "a 404 of the app is the app's, not kaze's");
    }

    [Fact]
    public async Task Grpc_UnaryCall_PassesThroughWithStatusCodes()
    {
        await _pair.StartAsync(CalleeApp.TestAppHttp2);
        using GrpcChannel channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_pair.HttpPort}");
        var client = new Greeter.GreeterClient(channel);
        var node = new Metadata { { "kaze-node", HttpPair.CalleeIdent } };

        HelloReply reply = await client.SayHelloAsync(new HelloRequest { Name = "mesh" }, node, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync.Within("a gRPC unary call through two sidecars");
        Assert.Equal("Hello mesh", reply.Message);

        RpcException failure = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloAsync(new HelloRequest { Name = "fail:5" }, node, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, failure.StatusCode);
        Assert.Equal("asked to fail", failure.Status.Detail);

        // Trailers of an HTTP/2 response cross too.
        using var http2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        HttpResponseMessage trailers = await http2.GetAsync(_pair.CalleeUrl + "/trailers").Within("an HTTP/2 GET of a response with trailers");
        Assert.Equal("body", await trailers.Content.ReadAsStringAsync());
        Assert.Equal("42", trailers.TrailingHeaders.GetValues("x-sum").Single());
    }

    [Fact]
    public async Task SixtyFourConcurrentRequests_AllAnsweredCorrectly()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });
        Task<string>[] calls = [.. Enumerable.Range(0, 64).Select(async i =>
        {
            string body = $"request {i} " + new string((char)('a' + (i % 26)), 1000 + i);
            HttpResponseMessage response = await client.PostAsync(_pair.CalleeUrl + "/echo", new StringContent(body));
            string echoed = await response.Content.ReadAsStringAsync();
            return echoed == body ? "ok" : $"{i}: {response.StatusCode} {echoed[..Math.Min(80, echoed.Length)]}";
        })];

        string[] results = await Task.WhenAll(calls).Within("64 concurrent POSTs through two sidecars", Transfer);

        Assert.All(results, r => Assert.Equal("ok", r));
    }

    [Fact]
    public async Task SlowReader_HoldsBackTheApp_AndEverythingArrives()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        const long length = 64L * 1024 * 1024;
        using var client = new HttpClient();
        using HttpResponseMessage response = await client.GetAsync(_pair.CalleeUrl + "/bytes/" + length + "?progress=1", HttpCompletionOption.ResponseHeadersRead).Within("the head of a 64 MiB response");
        await using Stream body = await response.Content.ReadAsStreamAsync();
        var reader = new PatternReader(body);
        await reader.ReadAsync(1024 * 1024, "the first MiB");

        // The client stops reading: the app must stop too, a bounded distance ahead (flow-control
        // windows, Kestrel's and the sockets' buffers), not 64 MiB ahead.
        long settled = await SettledAsync(_pair.CalleeProgressAsync, "the app's writes to stop while the client does not read");
        Assert.True(settled - reader.Read < 32L * 1024 * 1024, $"the app wrote {settled} bytes while the client had read {reader.Read}: nothing held it back");
        Assert.True(settled < length, "the app wrote everything at once");

        await reader.ReadAsync(length - reader.Read, "the rest of the 64 MiB", Transfer);
        Assert.Equal(0, await body.ReadAsync(new byte[1]));
    }

    /// <summary>
    /// Polls <paramref name="probe"/> (bounded, 20 s) until it reads the same non-zero value for
    /// half a second: a quiescence check, not a wait for an event.
    /// </summary>
    private static async Task<long> SettledAsync(Func<Task<long>> probe, string what)
    {
        (long Value, long Since) last = (-1, 0);
        (long Value, long Since) state = await Eventually.UntilAsync(
            async () =>
            {
                long now = await probe();
                long time = Environment.TickCount64;
                last = now == last.Value ? last : (now, time);
                return last;
            },
            s => s.Value > 0 && Environment.TickCount64 - s.Since >= 500,
            what,
            TimeSpan.FromSeconds(20),
            s => $"last reading {s.Value}");
        return state.Value;
    }

    /// <summary>Reads a /bytes response and checks every byte against the app's pattern.</summary>
    private sealed class PatternReader(Stream body)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly byte[] _expected = new byte[64 * 1024];

        public long Read { get; private set; }

        public async Task ReadAsync(long count, string what, TimeSpan? timeout = null)
        {
            long end = Read + count;
            while (Read < end)
            {
                int n = await body.ReadAsync(_buffer.AsMemory(0, (int)Math.Min(_buffer.Length, end - Read))).AsTask().Within(what, timeout);
                Assert.True(n > 0, $"the body ended at {Read} bytes, before {what}");
                AppPattern.Fill(_expected.AsSpan(0, n), Read);
                Assert.True(_buffer.AsSpan(0, n).SequenceEqual(_expected.AsSpan(0, n)), $"bytes {Read}-{Read + n} differ from the app's pattern");
                Read += n;
            }
        }
    }
}
