using Kaze.Protocol;

namespace Kaze.Resolver.Tests;

public sealed class NodeEntryTests
{
    [Theory]
    [InlineData("0.0.0.1=127.0.0.1:6081", 1u, "127.0.0.1", 6081)]
    [InlineData("1.2.3.4=node-a.example:7000", 0x01020304u, "node-a.example", 7000)]
    [InlineData("0.0.0.2=[::1]:6081", 2u, "::1", 6081)]
    [InlineData("  0.0.0.3 = 10.0.0.3:1  ", 3u, "10.0.0.3", 1)]
    public void TryParse_ValidText_GivesIdentAndAddress(string text, uint ident, string host, int port)
    {
        Assert.True(NodeEntry.TryParse(text, "--node", out NodeEntry entry, out string? error), error);

        Assert.Equal(new Ident(ident), entry.Ident);
        Assert.Equal(new NodeAddress(host, port), entry.Address);
        Assert.Equal("--node", entry.Source);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("0.0.0.1 127.0.0.1:6081", "'=' between ident and address is missing")]
    [InlineData("", "empty node")]
    [InlineData("   ", "empty node")]
    [InlineData("0.0.1=127.0.0.1:6081", "the ident part is wrong: '0.0.1' is not an ident")]
    [InlineData("=127.0.0.1:6081", "the ident part is wrong: '' is not an ident")]
    [InlineData("0.0.0.256=127.0.0.1:6081", "the ident part is wrong: '0.0.0.256'")]
    [InlineData("0.0.0.1=127.0.0.1", "the address part is wrong: '127.0.0.1' is not an address")]
    [InlineData("0.0.0.1=127.0.0.1:70000", "the address part is wrong: '127.0.0.1:70000' has no valid port")]
    [InlineData("0.0.0.1=::1:6081", "the address part is wrong: '::1:6081' is not an address")]
    [InlineData("0.0.0.1=", "the address part is wrong")]
    [InlineData("0.0.0.1=a:1/Orders", "a name is wrong: 'Orders' has the character 'O'")]
    [InlineData("0.0.0.1=a:1/", "a name is wrong: a service name cannot be empty")]
    [InlineData("0.0.0.1=a:1/orders,,billing", "a name is wrong: a service name cannot be empty")]
    public void TryParse_BadText_ErrorNamesTheBadPart(string text, string expected)
    {
        Assert.False(NodeEntry.TryParse(text, "kaze.json", out _, out string? error));

        Assert.Contains(expected, error);
        Assert.Contains("kaze.json", error);
    }

    [Fact]
    public void Parse_BadText_ThrowsFormatExceptionQuotingTheText()
    {
        var exception = Assert.Throws<FormatException>(() => NodeEntry.Parse("0.0.0.x=127.0.0.1:6081"));

        Assert.Contains("'0.0.0.x=127.0.0.1:6081'", exception.Message);
        Assert.Contains("ident part", exception.Message);
    }

    [Fact]
    public void ToString_ParsedEntry_RoundTrips()
    {
        NodeEntry entry = NodeEntry.Parse("0.0.0.9=[fe80::1]:6081");

        Assert.Equal("0.0.0.9=[fe80::1]:6081", entry.ToString());
        Assert.Equal(entry.Address, NodeEntry.Parse(entry.ToString()).Address);
    }

    [Fact]
    public void TryParse_Names_AfterTheAddress()
    {
        NodeEntry entry = NodeEntry.Parse("0.0.0.3 = [::1]:6081 / orders, billing,orders");

        Assert.Equal(new NodeAddress("::1", 6081), entry.Address);
        Assert.Equal(["orders", "billing"], entry.Names);
        Assert.Equal("0.0.0.3=[::1]:6081/orders,billing", entry.ToString());
        Assert.Empty(default(NodeEntry).Names);
    }
}
