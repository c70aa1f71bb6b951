namespace Kaze.Protocol.Tests;

public sealed class RetCodeTests
{
    [Fact]
    public void Values_MatchUpstreamThenKazeAdditions()
    {
        Assert.Equal(0u, (uint)RetCode.Ok);
        Assert.Equal(1u, (uint)RetCode.Unreachable);
        Assert.Equal(2u, (uint)RetCode.Timeout);
        Assert.Equal(3u, (uint)RetCode.ResourceExhausted);
        Assert.Equal(4u, (uint)RetCode.NoHandler);
        Assert.Equal(5u, (uint)RetCode.HandlerFailed);
        Assert.Equal(6, Enum.GetValues<RetCode>().Length);
    }

    [Fact]
    public void ProtocolVersion_Current_IsOneAndUpstreamIsZero()
    {
        Assert.Equal(1u, ProtocolVersion.Current);
        Assert.Equal(0u, ProtocolVersion.Unversioned);
    }
}
