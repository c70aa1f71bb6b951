using System.Net;
using System.Text;
using Xunit;

namespace Kaze.Cli.Tests.Http;

/// <summary>
/// An HTTP app and a Kaze host talk to each other (docs/http.md, "Kaze hosts and HTTP apps"): a
/// request with Kaze-Body-Type reaches a host's handler; a host's <c>http</c> packet reaches a node's app.
/// The test app is both (tests/Kaze.TestHttpApp).
/// </summary>
[Collection(HttpCollection.Name)]
public sealed class HttpInteropTests : IDisposable
{
    private readonly HttpPair _pair = HttpPair.Create();

    public void Dispose() => _pair.Dispose();

    [Fact]
    public async Task HttpApp_CallsAKazeHandler_WithKazeBodyType()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, _pair.CalleeUrl + "/ignored") { Content = new StringContent("world") };
        request.Headers.Add("Kaze-Body-Type", "greet");

        HttpResponseMessage response = await client.SendAsync(request).Within("a Kaze-Body-Type call to the callee's host");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("hello world", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpPair.CalleeIdent, response.Headers.GetValues("x-greeted-by").Single());

        using var unknown = new HttpRequestMessage(HttpMethod.Post, _pair.CalleeUrl + "/") { Content = new StringContent("x") };
        unknown.Headers.Add("Kaze-Body-Type", "nobody.handles.this");
        await HttpErrorTests.AssertKazeErrorAsync(await client.SendAsync(unknown).Within("a call no handler takes"), HttpStatusCode.BadGateway, "NO_HANDLER", retCode: 4);
    }

    [Fact]
    public async Task KazeHost_ReachesAnHttpApp_WithAnHttpPacket()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient();

        // The callee's app, as a Kaze host, calls the caller's app; then its own (0.0.0.0).
        string remote = await client.GetStringAsync($"http://127.0.0.1:{_pair.CalleeAppPort}/kaze/http?to={HttpPair.CallerIdent}&path=/headers%3Fq%3D1").Within("an http packet from the callee's host to the caller's app");
        string local = await client.GetStringAsync($"http://127.0.0.1:{_pair.CalleeAppPort}/kaze/http?to=0.0.0.0&path=/count").Within("an http packet from the callee's host to its own app");

        Assert.StartsWith("Ok 200\nprotocol: HTTP/1.1\nmethod: GET\npath: /headers?q=1\n", remote);
        Assert.StartsWith("Ok 200\n", local);
        _ = Encoding.UTF8;
    }
}
