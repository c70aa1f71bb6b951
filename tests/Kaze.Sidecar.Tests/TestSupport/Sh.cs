using Kaze.Sidecar.Supervision;

namespace Kaze.Sidecar.Tests.TestSupport;

/// <summary>Starts `sh -c script` under <see cref="HostProcess"/>; the test fails if it does not start.</summary>
internal static class Sh
{
    public static HostProcess Start(string script, IReadOnlyDictionary<string, string?>? environment = null) =>
        StartOrFail(new HostProcessOptions
        {
            Command = "sh",
            Arguments = ["-c", script],
            Environment = environment ?? new Dictionary<string, string?>(),
            ForwardSignals = false, // never register handlers in the test runner itself
        });

    public static HostProcess StartOrFail(HostProcessOptions options)
    {
        HostStartResult result = HostProcess.Start(options);
        Assert.True(result.IsStarted, result.Failure?.Message);
        return result.Process!;
    }
}
