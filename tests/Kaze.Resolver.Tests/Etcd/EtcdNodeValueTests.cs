using System.Text;
using Kaze.Resolver.Etcd;

namespace Kaze.Resolver.Tests.Etcd;

public sealed class EtcdNodeValueTests
{
    [Fact]
    public void Format_ThenTryParse_GivesBackEveryField()
    {
        var registered = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);
        byte[] value = EtcdNodeValue.Format(NodeAddress.Parse("[::1]:6081"), ["orders", "billing"], 4711, "node-a", registered);

        Assert.True(EtcdNodeValue.TryParse(value, out EtcdNodeValue.Parsed? parsed, out string? error), error);
        Assert.Equal(NodeAddress.Parse("[::1]:6081"), parsed.Address);
        Assert.Equal(["orders", "billing"], parsed.Names);
        Assert.Equal(4711, parsed.Pid);
        Assert.Equal("node-a", parsed.Host);
        Assert.Equal(registered, parsed.RegisteredAt);
    }

    [Fact]
    public void TryParse_PlainAddress_IsANodeWithoutNames()
    {
        Assert.True(EtcdNodeValue.TryParse("127.0.0.1:7001"u8, out EtcdNodeValue.Parsed? parsed, out _));
        Assert.Equal(NodeAddress.Parse("127.0.0.1:7001"), parsed.Address);
        Assert.Empty(parsed.Names);
    }

    [Theory]
    [InlineData("", "neither a JSON object nor HOST:PORT")]
    [InlineData("garbage", "neither a JSON object nor HOST:PORT")]
    [InlineData("{", "not valid JSON")]
    [InlineData("{}", "no \"address\"")]
    [InlineData("{\"address\":7}", "no \"address\"")]
    [InlineData("{\"address\":\"nope\"}", "\"address\"")]
    [InlineData("{\"address\":\"a:1\",\"names\":\"orders\"}", "\"names\" is not an array")]
    [InlineData("{\"address\":\"a:1\",\"names\":[1]}", "not a string")]
    [InlineData("{\"address\":\"a:1\",\"names\":[\"Orders\"]}", "character 'O'")]
    [InlineData("{\"address\":\"a:1\",\"names\":[\"1.2.3.4\"]}", "dotted ident")]
    [InlineData("{\"address\":\"a:1\",\"x\":[[[[[[1]]]]]]}", "not valid JSON")]
    public void TryParse_Hostile_IsRefusedWithAReason(string value, string expected)
    {
        Assert.False(EtcdNodeValue.TryParse(Encoding.UTF8.GetBytes(value), out _, out string? error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void TryParse_TooLongOrTooManyNames_IsRefused()
    {
        byte[] huge = Encoding.UTF8.GetBytes("{\"address\":\"a:1\",\"host\":\"" + new string('h', EtcdNodeValue.MaxBytes) + "\"}");
        Assert.False(EtcdNodeValue.TryParse(huge, out _, out string? error));
        Assert.Contains("bytes", error);

        string names = string.Join(",", Enumerable.Range(0, EtcdNodeValue.MaxNames + 1).Select(i => $"\"n{i}\""));
        Assert.False(EtcdNodeValue.TryParse(Encoding.UTF8.GetBytes($"{{\"address\":\"a:1\",\"names\":[{names}]}}"), out _, out error));
        Assert.Contains("more than", error);
    }

    [Fact]
    public void TryParse_OddOptionalFields_AreDroppedNotFatal()
    {
        Assert.True(EtcdNodeValue.TryParse("{\"address\":\"a:1\",\"pid\":-3,\"host\":\"a\\u0007b\",\"registered\":\"yesterday\"}"u8, out EtcdNodeValue.Parsed? parsed, out _));
        Assert.Null(parsed.Pid);
        Assert.Null(parsed.Host);
        Assert.Null(parsed.RegisteredAt);
    }
}
