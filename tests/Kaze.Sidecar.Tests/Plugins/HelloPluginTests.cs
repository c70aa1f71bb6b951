using System.Text;
using Kaze.Host;
using Kaze.Protocol;
using Kaze.Sidecar.Plugins;
using Kaze.Sidecar.RateLimiting;
using Kaze.Sidecar.Tests.RateLimiting;

namespace Kaze.Sidecar.Tests.Plugins;

/// <summary>examples/Plugin, loaded from its build output into a running sidecar, acting on the host's packets.</summary>
public sealed class HelloPluginTests
{
    [Fact]
    public async Task HelloPlugin_InARunningSidecar_AnswersHelloItselfAndMarksEverythingElse()
    {
        string json = PluginPaths.Config("hello", PluginPaths.Hello, extra: "\"greeting\": \"hi\"");
        int hostSawHello = 0;
        await using HostedSidecar sidecar = await HostedSidecar.StartAsync(
            json,
            [new RateLimitPlugin(), .. PluginLoader.Load(LimiterHarness.Configuration(json))],
            client =>
            {
                client.AddHandler("hello", (_, _) =>
                {
                    Interlocked.Increment(ref hostSawHello);
                    return ValueTask.FromResult(KazeReply.Ok(Encoding.UTF8.GetBytes("the host")));
                });
                // Answers with the value of the plugin's header on the request, or "none".
                client.AddHandler("echo", (request, _) => ValueTask.FromResult(KazeReply.Ok(
                    request.Headers.TryGetValue("x-hello-plugin", out var mark) ? mark.ToByteArray() : Encoding.UTF8.GetBytes("none"))));
            });

        // "hello" to this node, by its ident or as 0.0.0.0: answered by the plugin, never by the host.
        foreach (Ident destination in new[] { HostedSidecar.Self, Ident.Any })
        {
            KazeResponse hello = await sidecar.CallAsync("hello", destination, $"to {destination}");
            Assert.Equal(RetCode.Ok, hello.Code);
            Assert.Equal("hello.rsp", hello.BodyType);
            Assert.Equal("hi from 0.0.0.1", Encoding.UTF8.GetString(hello.Body.Span));
        }

        Assert.Equal(0, Volatile.Read(ref hostSawHello));

        // Anything else reaches the host, marked by the plugin on its way through.
        KazeResponse echo = await sidecar.CallAsync("echo");
        Assert.Equal(RetCode.Ok, echo.Code);
        Assert.Equal("0.0.0.1", Encoding.UTF8.GetString(echo.Body.Span));

        // Its background service ran, and the sidecar says what it loaded.
        Assert.True(sidecar.Logs.Contains("Hello plugin ready", "hi from 0.0.0.1"), sidecar.Logs.Dump());
        Assert.True(sidecar.Logs.Contains("Information 660", "Plugin hello: Kaze.Plugin.Hello.HelloPlugin", PluginPaths.Hello), sidecar.Logs.Dump());
        Assert.Equal(0, sidecar.App.Node.PendingRequests);
    }
}
