

namespace Kaze.Protocol.Tests;

public sealed class ServiceNameTests
{
    [Theory]
    [InlineData("orders")]
    [InlineData("a")]
    [InlineData("orders.eu-west-1")]
    [InlineData("0")]
    [InlineData("1.2.3")]
    [InlineData("123456789012345678901234567890123456789012345678901234567890123")]
    public void IsValid_Names_AreAccepted(string name)
    {
        Assert.True(ServiceName.IsValid(name, out string? error), error);
    }

    [Theory]
    [InlineData(null, "cannot be empty")]
    [InlineData("", "cannot be empty")]
    [InlineData("Orders", "the character 'O'")]
    [InlineData("or ders", "the character '\\u0020'")]
    [InlineData("orders_v2", "the character '_'")]
    [InlineData("zürich", "the character 'ü'")]
    [InlineData("1.2.3.4", "is a dotted ident")]
    [InlineData("1234567890123456789012345678901234567890123456789012345678901234", "64 characters long")]
    public void IsValid_BadNames_AreRefusedWithTheReason(string? name, string expected)
    {
        Assert.False(ServiceName.IsValid(name, out string? error));
        Assert.Contains(expected, error);
    }
}
