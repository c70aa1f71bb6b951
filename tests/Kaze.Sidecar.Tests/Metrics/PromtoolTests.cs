using Kaze.Protocol;
using Kaze.Sidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>Prometheus' own checker on the real output of a running sidecar.</summary>
public sealed class PromtoolTests(ITestOutputHelper output)
{
    [RequiresProgramFact("promtool", "prometheus")]
    public async Task PromtoolCheckMetrics_OutputOfABusySidecar_Passes()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        await sidecar.MetricsUrlAsync();
        // Every kind of series: histogram buckets, labelled counters, the exit code gauge, rate limits.
        await sidecar.CallAsHostAsync(new Ident(9), sequence: 1);
        await sidecar.CallAsHostAsync(Ident.Any, sequence: 2, timeoutMs: 20);
        sidecar.Node.ReportHostExit(0);
        sidecar.Services.GetRequiredService<KazeMeter>().RateLimited.Add(1, new KeyValuePair<string, object?>("rule", "perSource"), new KeyValuePair<string, object?>("reason", "dropped"));
        string text = await sidecar.ScrapeAsync();
        Assert.Contains("kaze_call_duration_seconds_bucket", text, StringComparison.Ordinal);

        (int exitCode, string report) = await ExternalProgram.RunAsync(RequiresProgramFactAttribute.FindOnPath("promtool")!, ["check", "metrics"], text);

        output.WriteLine(report);
        Assert.True(exitCode == 0 && report.Trim().Length == 0, $"promtool check metrics exited {exitCode}:{Environment.NewLine}{report}{Environment.NewLine}on:{Environment.NewLine}{text}");
    }
}
