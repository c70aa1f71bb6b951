using Kaze.Protocol;

namespace Kaze.Host.Tests;

/// <summary>Reading KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID, and the messages when they are wrong.</summary>
public sealed class SidecarEndpointTests
{
    [Fact]
    public void FromVariables_AllSet_ReturnsEndpoint()
    {
        SidecarEndpoint endpoint = SidecarEndpoint.FromVariables(Lookup(("KAZE_CHANNEL", "app-1"), ("KAZE_IDENT", "10.0.0.3"), ("KAZE_SIDECAR_PID", "4242")));

        Assert.Equal(new SidecarEndpoint("app-1", Ident.Parse("10.0.0.3"), 4242), endpoint);
    }

    [Fact]
    public void FromVariables_ChannelMissing_MessageNamesItAndKazeRun()
    {
        var error = Assert.Throws<KazeEnvironmentException>(() => SidecarEndpoint.FromVariables(Lookup(("KAZE_IDENT", "0.0.0.1"), ("KAZE_SIDECAR_PID", "1"))));

        Assert.Equal("KAZE_CHANNEL is not set: start this program under `kaze run -- <command>`", error.Message);
        Assert.Equal(["KAZE_CHANNEL"], error.Variables);
    }

    [Fact]
    public void FromVariables_NothingSet_MessageNamesEveryVariable()
    {
        var error = Assert.Throws<KazeEnvironmentException>(() => SidecarEndpoint.FromVariables(Lookup()));

        Assert.Equal(["KAZE_CHANNEL", "KAZE_IDENT", "KAZE_SIDECAR_PID"], error.Variables);
        Assert.Contains("KAZE_CHANNEL is not set", error.Message);
        Assert.Contains("KAZE_IDENT is not set", error.Message);
        Assert.Contains("KAZE_SIDECAR_PID is not set", error.Message);
        Assert.EndsWith("start this program under `kaze run -- <command>`", error.Message);
    }

    [Fact]
    public void FromVariables_IdentInvalid_MessageSaysWhatIsExpected()
    {
        var error = Assert.Throws<KazeEnvironmentException>(() => SidecarEndpoint.FromVariables(Lookup(("KAZE_CHANNEL", "c"), ("KAZE_IDENT", "1.2.3"), ("KAZE_SIDECAR_PID", "1"))));

        Assert.Equal(["KAZE_IDENT"], error.Variables);
        Assert.Contains("KAZE_IDENT is invalid: '1.2.3' is not an ident", error.Message);
        Assert.Contains("kaze run", error.Message);
    }

    [Fact]
    public void FromVariables_ChannelNameInvalid_MessageGivesTheReason()
    {
        var error = Assert.Throws<KazeEnvironmentException>(() => SidecarEndpoint.FromVariables(Lookup(("KAZE_CHANNEL", "../etc"), ("KAZE_IDENT", "0.0.0.1"), ("KAZE_SIDECAR_PID", "1"))));

        Assert.Equal(["KAZE_CHANNEL"], error.Variables);
        Assert.Contains("KAZE_CHANNEL is invalid", error.Message);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData("0")]
    public void FromVariables_PidInvalid_MessageNamesIt(string pid)
    {
        var error = Assert.Throws<KazeEnvironmentException>(() => SidecarEndpoint.FromVariables(Lookup(("KAZE_CHANNEL", "c"), ("KAZE_IDENT", "0.0.0.1"), ("KAZE_SIDECAR_PID", pid))));

        Assert.Equal(["KAZE_SIDECAR_PID"], error.Variables);
        Assert.Contains($"KAZE_SIDECAR_PID is invalid: '{pid}' is not a process id", error.Message);
    }

    private static Func<string, string?> Lookup(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
