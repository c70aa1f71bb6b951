using FsCheck;
using FsCheck.Fluent;

namespace Kaze.Protocol.Tests;

public sealed class IdentTests
{
    private const string Expected = "expected four numbers 0-255 separated by dots, e.g. 0.0.0.1";

    [Theory]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("0.0.0.1", 1u)]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("10.0.0.255", 0x0A0000FFu)]
    [InlineData("255.255.255.255", uint.MaxValue)]
    [InlineData("001.02.3.000", 0x01020300u)]
    public void Parse_DottedQuad_GivesValueMostSignificantByteFirst(string text, uint value)
    {
        Assert.Equal(new Ident(value), Ident.Parse(text));
        Assert.True(Ident.TryParse(text, out var parsed));
        Assert.Equal(value, parsed.Value);
        Assert.True(Ident.TryParse(text, out parsed, out string? error));
        Assert.Equal(value, parsed.Value);
        Assert.Null(error);
    }

    [Theory]
    [InlineData(0u, "0.0.0.0")]
    [InlineData(1u, "0.0.0.1")]
    [InlineData(0x01020304u, "1.2.3.4")]
    [InlineData(uint.MaxValue, "255.255.255.255")]
    public void ToString_Value_GivesDottedQuad(uint value, string text)
    {
        Assert.Equal(text, new Ident(value).ToString());
        Assert.Equal(text, $"{new Ident(value)}");
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3")]
    [InlineData("256.0.0.1")]
    [InlineData("a.b.c.d")]
    [InlineData("1.2.3.4.5")]
    [InlineData(" 1.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("-1.0.0.0")]
    [InlineData("+1.0.0.0")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.")]
    [InlineData(".1.2.3")]
    [InlineData("1234.0.0.1")]
    [InlineData("0256.0.0.1")]
    [InlineData("1.2.3.4x")]
    [InlineData("١.٢.٣.٤")]
    public void TryParse_NotAnIdent_FailsWithMessage(string text)
    {
        Assert.False(Ident.TryParse(text, out var ident));
        Assert.Equal(Ident.Any, ident);

        Assert.False(Ident.TryParse(text, out ident, out string? error));
        Assert.Equal(Ident.Any, ident);
        Assert.Equal($"'{text}' is not an ident: {Expected}", error);

        var exception = Assert.Throws<FormatException>(() => Ident.Parse(text));
        Assert.Equal(error, exception.Message);
    }

    [Fact]
    public void TryParse_ThreeNumbers_GivesTheDocumentedMessage()
    {
        Assert.False(Ident.TryParse("1.2.3", out _, out string? error));
        Assert.Equal("'1.2.3' is not an ident: expected four numbers 0-255 separated by dots, e.g. 0.0.0.1", error);
    }

    [Fact]
    public void TryParse_VeryLongInput_EchoesOnlyItsStart()
    {
        string text = new('9', 10_000);
        Assert.False(Ident.TryParse(text, out _, out string? error));
        Assert.StartsWith($"'{new string('9', 64)}...' is not an ident", error);
    }

    [Fact]
    public void ParseAndToString_AnyValue_RoundTrips()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<uint>(), value =>
        {
            var ident = new Ident(value);
            return Ident.Parse(ident.ToString()) == ident;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void TryFormat_DestinationLargeEnough_WritesDottedQuad()
    {
        Span<char> buffer = stackalloc char[Ident.MaxLength];
        Assert.True(new Ident(uint.MaxValue).TryFormat(buffer, out int written));
        Assert.Equal(Ident.MaxLength, written);
        Assert.Equal("255.255.255.255", new string(buffer[..written]));
    }

    [Theory]
    [InlineData(0x01020304u, 6)]
    [InlineData(0x01020304u, 2)]
    [InlineData(0x01020304u, 1)]
    [InlineData(0x01020304u, 0)]
    [InlineData(uint.MaxValue, 14)]
    public void TryFormat_DestinationTooSmall_ReturnsFalse(uint value, int size)
    {
        Span<char> buffer = stackalloc char[size];
        Assert.False(new Ident(value).TryFormat(buffer, out int written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Any_IsZero()
    {
        Assert.Equal(0u, Ident.Any.Value);
        Assert.Equal("0.0.0.0", Ident.Any.ToString());
    }

    [Theory]
    [InlineData("10.0.0.5", "10.0.0.0", 0xFFFFFF00u, true)]
    [InlineData("10.0.1.5", "10.0.0.0", 0xFFFFFF00u, false)]
    [InlineData("1.2.3.4", "0.0.0.0", 0u, true)]
    [InlineData("1.2.3.4", "1.2.3.4", uint.MaxValue, true)]
    [InlineData("1.2.3.5", "1.2.3.4", uint.MaxValue, false)]
    [InlineData("1.2.3.4", "1.2.3.4", 0xFFFF0000u, false)]
    public void Matches_Selector_ComparesMaskedBits(string node, string selector, uint mask, bool expected)
    {
        Assert.Equal(expected, Ident.Parse(node).Matches(Ident.Parse(selector), mask));
    }

    [Fact]
    public void GenericParsing_SpanParsable_UsesTheSameRules()
    {
        Assert.Equal(new Ident(1), ParseWith<Ident>("0.0.0.1"));
        Assert.False(TryParseWith<Ident>("1.2.3", out _));
        Assert.False(TryParseWith<Ident>(null, out _));
        Assert.Equal("1.2.3.4", FormatWith(new Ident(0x01020304)));

        static T ParseWith<T>(string text) where T : IParsable<T> => T.Parse(text, null);
        static bool TryParseWith<T>(string? text, out T? value) where T : IParsable<T> => T.TryParse(text, null, out value);
        static string FormatWith<T>(T value) where T : ISpanFormattable
        {
            Span<char> buffer = stackalloc char[32];
            Assert.True(value.TryFormat(buffer, out int written, default, null));
            return new string(buffer[..written]);
        }
    }
}
