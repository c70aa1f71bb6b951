using System.Net;
using System.Text.Json;
using Xunit;

namespace Kaze.Cli.Tests.Http;

/// <summary>
/// What goes wrong comes back as HTTP (docs/http.md, "Errors"): kaze's own answers are a status
/// and a small JSON body naming the Kaze return code, marked with Kaze-Error; an app that dies
/// mid-response fails the client's transfer, never hangs it; a request kaze refuses never
/// reaches the other side.
/// </summary>
[Collection(HttpCollection.Name)]
public sealed class HttpErrorTests : IDisposable
{
    private readonly HttpPair _pair = HttpPair.Create();

    public void Dispose() => _pair.Dispose();

    [Fact]
    public async Task UnknownNode_Is502NamingUnreachable()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient();

        HttpResponseMessage response = await client.GetAsync($"http://127.0.0.1:{_pair.HttpPort}/0.0.9.9/x").Within("a request to a node nobody knows");

        await AssertKazeErrorAsync(response, HttpStatusCode.BadGateway, "UNREACHABLE", retCode: 1);
    }

    [Fact]
    public async Task AppNotListening_Is502FromTheRemoteSide()
    {
        await _pair.StartAsync(CalleeApp.Nothing);
        using var client = new HttpClient();

        HttpResponseMessage response = await client.GetAsync(_pair.CalleeUrl + "/x").Within("a request to a node whose app does not listen");

        JsonElement json = await AssertKazeErrorAsync(response, HttpStatusCode.BadGateway, "APP_UNREACHABLE", retCode: null);
        Assert.Equal(HttpPair.CalleeIdent, json.GetProperty("node").GetString());
    }

    [Fact]
    public async Task SlowApp_Is504NamingTimeout()
    {
        string config = _pair.WriteConfig("caller.json", """{ "http": { "timeout": "1s" } }""");
        await _pair.StartAsync(CalleeApp.TestApp, callerOptions: ["--config", config]);
        using var client = new HttpClient();

        HttpResponseMessage response = await client.GetAsync(_pair.CalleeUrl + "/slow/10000").Within("a request the app answers after 10 s, with http:timeout 1s");

        await AssertKazeErrorAsync(response, HttpStatusCode.GatewayTimeout, "TIMEOUT", retCode: 2);
    }

    [Fact]
    public async Task RateLimited_Is429WithRetryAfter()
    {
        // One HTTP request a thousand seconds: the second is refused by the caller's sidecar.
        string config = _pair.WriteConfig("caller.json", """{ "rateLimits": { "perBodyType": { "kaze.http.req": { "permitsPerSecond": 0.001, "burst": 1 } } } }""");
        await _pair.StartAsync(CalleeApp.TestApp, callerOptions: ["--config", config]);
        using var client = new HttpClient();

        HttpResponseMessage first = await client.GetAsync(_pair.CalleeUrl + "/count").Within("the first request, within the limit");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        HttpResponseMessage second = await client.GetAsync(_pair.CalleeUrl + "/count").Within("the second request, over the limit");

        await AssertKazeErrorAsync(second, HttpStatusCode.TooManyRequests, "RESOURCE_EXHAUSTED", retCode: 3);
        Assert.Equal(TimeSpan.FromSeconds(1), second.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task AppCrashesMidResponse_ClientTransferFails()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient();

        // The app announces 2 MB and sends 1 MB; the client reads it; then the app dies.
        using HttpResponseMessage response = await client.GetAsync(_pair.CalleeUrl + "/crash/1000000", HttpCompletionOption.ResponseHeadersRead).Within("the head of a response whose app will crash");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Stream body = await response.Content.ReadAsStreamAsync();
        byte[] buffer = new byte[64 * 1024];
        long read = 0;
        while (read < 1_000_000)
        {
            int n = await body.ReadAsync(buffer).AsTask().Within("the first half of the response");
            Assert.True(n > 0, $"the body ended after {read} bytes, before the crash");
            read += n;
        }

        try
        {
            await client.GetAsync($"http://127.0.0.1:{_pair.CalleeAppPort}/die");
        }
        catch (HttpRequestException)
        {
            // It may die before it answers.
        }

        // The rest never comes: the read fails (the transfer is cut), within a bound, not a hang.
        Exception failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            while (await body.ReadAsync(buffer).AsTask().Within("the client's read to fail after the app died") > 0)
            {
            }
        });
        Assert.True(failure is IOException or HttpRequestException, $"expected the transfer to fail, got {failure}");
    }

    [Fact]
    public async Task BadRequests_AreRefusedByTheCallerWithNothingSent()
    {
        string config = _pair.WriteConfig("caller.json", """{ "http": { "maxRequestBodySize": "1000" } }""");
        await _pair.StartAsync(CalleeApp.TestApp, callerOptions: ["--config", config]);
        long before = await _pair.CalleeRequestsAsync();
        using var client = new HttpClient();
        string root = $"http://127.0.0.1:{_pair.HttpPort}";

        await AssertKazeErrorAsync(await client.GetAsync(root + "/").Within("a request without a destination"), HttpStatusCode.BadRequest, "BAD_REQUEST", retCode: null);
        await AssertKazeErrorAsync(await client.GetAsync(root + "/not-a-node/x").Within("a request to no ident"), HttpStatusCode.BadRequest, "BAD_REQUEST", retCode: null);
        await AssertKazeErrorAsync(await client.GetAsync(_pair.CalleeUrl + "/" + new string('a', 9000)).Within("a request line over 8 KiB"), HttpStatusCode.BadRequest, "BAD_REQUEST", retCode: null);
        await AssertKazeErrorAsync(await client.PostAsync(_pair.CalleeUrl + "/sha256", new ByteArrayContent(new byte[2000])).Within("a body over http:maxRequestBodySize"), HttpStatusCode.RequestEntityTooLarge, "TOO_LARGE", retCode: null);

        using var huge = new HttpRequestMessage(HttpMethod.Get, _pair.CalleeUrl + "/x");
        huge.Headers.TryAddWithoutValidation("X-Big", new string('b', 40_000));
        HttpResponseMessage tooLarge = await client.SendAsync(huge).Within("a request with 40 KB of fields");
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, tooLarge.StatusCode);

        using var badNode = new HttpRequestMessage(HttpMethod.Get, root + "/x");
        badNode.Headers.TryAddWithoutValidation("Kaze-Node", "nowhere");
        await AssertKazeErrorAsync(await client.SendAsync(badNode).Within("a Kaze-Node that is not an ident"), HttpStatusCode.BadRequest, "BAD_REQUEST", retCode: null);

        Assert.Equal(before, await _pair.CalleeRequestsAsync());
    }

    /// <summary>The response is kaze's own error: the status, Kaze-Error and a JSON body with the name and (if given) the RetCode.</summary>
    internal static async Task<JsonElement> AssertKazeErrorAsync(HttpResponseMessage response, HttpStatusCode status, string name, uint? retCode)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.True(response.Headers.TryGetValues("Kaze-Error", out IEnumerable<string>? marked) && marked.Single() == name, $"Kaze-Error should be {name}: {response.Headers}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonElement json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(name, json.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("message").GetString()), "the message says what was wrong");
        if (retCode is { } code)
        {
            Assert.Equal(code, json.GetProperty("retCode").GetUInt32());
        }

        return json;
    }
}
