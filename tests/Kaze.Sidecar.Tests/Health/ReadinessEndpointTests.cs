using System.Net;
using System.Text.Json;
using Kaze.Plugin;
using Kaze.Service;
using Kaze.Sidecar.Health;
using Kaze.Sidecar.Metrics;
using Kaze.Sidecar.Tests.Metrics;
using Kaze.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Sidecar.Tests.Health;

/// <summary>/healthz and /readyz on a real sidecar's metrics listener: bodies, status codes, each built-in check and a contributed one.</summary>
public sealed class ReadinessEndpointTests
{
    [Fact]
    public async Task Healthz_Is200WithAliveJson()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        (HttpStatusCode status, string body, string? type) = await sidecar.GetAsync(MetricsHttpApplication.HealthPath);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HealthJson.ContentType, type);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.Equal("alive", json.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Readyz_HostNotStarted_Is503NamingTheHost()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        (HttpStatusCode status, string body, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.Equal("not ready", json.RootElement.GetProperty("status").GetString());
        JsonElement checks = json.RootElement.GetProperty("checks");
        Assert.True(checks.GetProperty("sidecar").GetProperty("ready").GetBoolean(), body);
        Assert.True(checks.GetProperty("mesh").GetProperty("ready").GetBoolean(), body);
        Assert.False(checks.GetProperty("host").GetProperty("ready").GetBoolean(), body);
        Assert.Equal("the host program has not started", checks.GetProperty("host").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Readyz_HostStartedButChannelNotOpened_Is503_ThenReadyOnceOpened_ThenNotReadyOnceClosed()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        sidecar.App.Readiness.ReportHostStarted(Environment.ProcessId);

        (HttpStatusCode before, string beforeBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);
        sidecar.OpenAsHost();
        (HttpStatusCode opened, string openedBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before);
        Assert.Contains("has not opened the channel yet", beforeBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, opened);
        Assert.Contains($"\"detail\":\"pid {Environment.ProcessId} has opened the channel\"", openedBody, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"ready\"", openedBody, StringComparison.Ordinal);

        sidecar.OpenAsHost().Dispose();
        await Eventually.True(() => sidecar.Node.HostEnded.IsCompleted, "the sidecar to see the host close its end");
        (HttpStatusCode closed, string closedBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closed);
        Assert.Contains("the host has closed the channel", closedBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_Relay_IsReadyOnceListening_AndSaysWhere()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(new Dictionary<string, string?> { ["listen"] = "127.0.0.1:0" }, withHost: false);

        (HttpStatusCode status, string body, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);

        Assert.Equal(HttpStatusCode.OK, status);
        using JsonDocument json = JsonDocument.Parse(body);
        JsonElement checks = json.RootElement.GetProperty("checks");
        Assert.False(checks.TryGetProperty("host", out _), body);
        Assert.Equal("listening on " + sidecar.App.Corral!.LocalEndPoint, checks.GetProperty("mesh").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Readyz_ContributorNotReady_Is503NamingIt_UntilItIsReady()
    {
        var registry = new SwitchedContributor("registry");
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(withHost: false, plugins: [new ContributorPlugin(registry)]);

        (HttpStatusCode before, string beforeBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);
        registry.Ready = true;
        (HttpStatusCode after, string afterBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before);
        Assert.Contains("\"registry\":{\"ready\":false,\"detail\":\"entry not written\"}", beforeBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, after);
        Assert.Contains("\"registry\":{\"ready\":true,\"detail\":\"entry written\"}", afterBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_ContributorThatThrows_IsNotReady_AndTheEndpointAnswers()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(withHost: false, plugins: [new ContributorPlugin(new ThrowingContributor())]);

        (HttpStatusCode status, string body, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("the check failed: InvalidOperationException: \\u0022broken\\u0022", body, StringComparison.Ordinal);
        using JsonDocument json = JsonDocument.Parse(body);
        Assert.False(json.RootElement.GetProperty("checks").GetProperty("broken").GetProperty("ready").GetBoolean());
    }

    [Fact]
    public async Task Head_Readyz_HasTheStatusAndNoBody_AndPostIs405()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(withHost: false);

        (HttpStatusCode head, string headBody, _) = await sidecar.GetAsync(MetricsHttpApplication.ReadyPath, HttpMethod.Head);
        (HttpStatusCode post, _, _) = await sidecar.GetAsync(MetricsHttpApplication.HealthPath, HttpMethod.Post);

        Assert.Equal(HttpStatusCode.OK, head);
        Assert.Equal("", headBody);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post);
    }

    private sealed class SwitchedContributor(string name) : IReadinessContributor
    {
        public volatile bool Ready;

        public string Name => name;

        public ReadinessCheck Check() => Ready ? ReadinessCheck.Ready("entry written") : ReadinessCheck.NotReady("entry not written");
    }

    private sealed class ThrowingContributor : IReadinessContributor
    {
        public string Name => "broken";

        public ReadinessCheck Check() => throw new InvalidOperationException("\"broken\"");
    }

    /// <summary>What discovery does: registers its contributor in the services.</summary>
    private sealed class ContributorPlugin(IReadinessContributor contributor) : IKazePlugin
    {
        public string Name => "contributor";

        public void ConfigureServices(PluginContext context, IServiceCollection services) => services.AddSingleton(contributor);

        public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
        {
        }
    }
}
