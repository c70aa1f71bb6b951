using Kaze.Host;
using Kaze.Protocol;
using Kaze.Sidecar.RateLimiting;
using Kaze.Sidecar.Tests.Plugins;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Sidecar.Tests.RateLimiting;

/// <summary>The plugin in a real sidecar: what a host over its budget sees.</summary>
public sealed class RateLimitSidecarTests
{
    [Fact]
    public async Task HostOverItsBudget_GetsResourceExhaustedFromItsSidecar_AndItsNotifiesAreDropped()
    {
        await using HostedSidecar sidecar = await HostedSidecar.StartAsync(
            """{ "rateLimits": { "perSource": { "permitsPerSecond": 0.001, "burst": 3 } } }""",
            [new RateLimitPlugin()],
            client => client.AddHandler("echo", (request, _) => ValueTask.FromResult(KazeReply.Ok(request.Body))));
        RateLimitCounters counters = sidecar.App.Services.GetRequiredService<RateLimitCounters>();

        // Each call is a request and a response through the pipeline; only the request counts.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(RetCode.Ok, (await sidecar.CallAsync("echo", what: $"call {i}")).Code);
        }

        KazeResponse refused = await sidecar.CallAsync("echo", what: "the call over the budget");
        Assert.Equal(RetCode.ResourceExhausted, refused.Code);
        Assert.False(refused.IsLocal);
        Assert.Equal(1, counters["perSource"]!.Answered);

        Assert.True(await sidecar.Client.SendAsync(HostedSidecar.Self, "echo", ReadOnlyMemory<byte>.Empty));
        await Eventually.True(() => counters["perSource"]!.Dropped == 1, "the notify over the budget to be dropped");
        Assert.Equal(0, sidecar.App.Node.PendingRequests);
        Assert.True(sidecar.Logs.Contains("Debug 650", "perSource"), sidecar.Logs.Dump());
    }
}
