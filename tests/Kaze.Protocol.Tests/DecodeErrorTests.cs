namespace Kaze.Protocol.Tests;

public sealed class DecodeErrorTests
{
    [Fact]
    public void ToMessage_EveryValue_HasItsOwnMessage()
    {
        var messages = Enum.GetValues<DecodeError>().Select(e => e.ToMessage()).ToArray();

        Assert.All(messages, m => Assert.False(string.IsNullOrWhiteSpace(m)));
        Assert.Equal(messages.Length, messages.Distinct().Count());
        Assert.DoesNotContain(messages, m => m.StartsWith("unknown", StringComparison.Ordinal));
    }

    [Fact]
    public void ToMessage_UnknownValue_SaysSo()
    {
        Assert.Equal("unknown decode error 99", ((DecodeError)99).ToMessage());
    }
}
