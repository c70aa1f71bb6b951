using Kaze.Host;
using Kaze.Protocol;
using Kaze.Sidecar.Plugins;
using Kaze.Sidecar.Tests.RateLimiting;

namespace Kaze.Sidecar.Tests.Plugins;

/// <summary>A plugin whose middleware throws: the packet is answered or counted, the log names the plugin, the sidecar goes on.</summary>
public sealed class PluginIsolationTests
{
    [Fact]
    public async Task ThrowingMiddleware_RequestIsAnsweredNotifyIsCountedAndTheLogNamesThePlugin()
    {
        string json = PluginPaths.Config("boomer", PluginPaths.Tests, PluginPaths.TestType(nameof(TestPlugins.ThrowingMiddlewarePlugin)));
        await using HostedSidecar sidecar = await HostedSidecar.StartAsync(
            json,
            PluginLoader.Load(LimiterHarness.Configuration(json)),
            client => client.AddHandler("echo", (request, _) => ValueTask.FromResult(KazeReply.Ok(request.Body))));
        // The plugin's two middlewares are one step, named after it.
        Assert.Equal(["boomer"], sidecar.App.Node.Pipeline.Names);

        // A request the plugin throws on, at once or after an await: answered, not lost.
        Assert.Equal(RetCode.Unreachable, (await sidecar.CallAsync("boom")).Code);
        Assert.Equal(RetCode.Unreachable, (await sidecar.CallAsync("boom.async")).Code);

        // A notify has no one to answer: it is counted.
        Assert.True(await sidecar.Client.SendAsync(HostedSidecar.Self, "boom", ReadOnlyMemory<byte>.Empty));
        await Eventually.True(() => sidecar.App.Node.RouterCounters.Errors == 3, "the three failures to be counted", details: sidecar.Logs.Dump);

        // Logged under the plugin's name, not the names the plugin gave its steps.
        Assert.Equal(3, sidecar.Logs.Lines.Count(l => l.StartsWith("Error 202 Pipeline step boomer failed", StringComparison.Ordinal)));
        Assert.DoesNotContain(sidecar.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("inner-", StringComparison.Ordinal));

        // The sidecar goes on.
        Assert.Equal(RetCode.Ok, (await sidecar.CallAsync("echo", what: "after the failures")).Code);
        Assert.Equal(0, sidecar.App.Node.PendingRequests);
    }
}
