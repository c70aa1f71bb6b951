using System.Text;
using Google.Protobuf;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Microsoft.AspNetCore.Http;

namespace Kaze.Http.Tests.Protocol;

public sealed class HttpFieldsTests
{
    [Fact]
    public void Write_ThenRead_KeepsNamesLowerCaseValuesInOrderAndOctets()
    {
        var fields = new HeaderDictionary
        {
            ["Content-Type"] = "text/plain",
            ["X-Many"] = new[] { "one", "two, three" },
            ["X-Latin"] = "caf\u00e9",
        };
        var header = new Hdr();

        HttpFields.Write(header.Headers, fields);
        var read = new Dictionary<string, string[]>();
        string? problem = HttpFields.Read(header.Headers, (name, values) => read[name] = values);

        Assert.Null(problem);
        Assert.Equal(["text/plain"], read["content-type"]);
        Assert.Equal(["one", "two, three"], read["x-many"]);
        Assert.Equal(["caf\u00e9"], read["x-latin"]);
        Assert.Equal(new byte[] { 0x63, 0x61, 0x66, 0xe9 }, header.Headers["x-latin"].ToByteArray());
        Assert.Equal("one\ntwo, three", header.Headers["x-many"].ToStringUtf8());
    }

    [Theory]
    [InlineData("Connection")]
    [InlineData("Keep-Alive")]
    [InlineData("Transfer-Encoding")]
    [InlineData("Upgrade")]
    [InlineData("Host")]
    [InlineData("Proxy-Connection")]
    public void HopByHopFields_NeitherWrittenNorRead(string name)
    {
        var header = new Hdr();
        HttpFields.Write(header.Headers, new HeaderDictionary { [name] = "x" });
        Assert.Empty(header.Headers);

        header.Headers[name.ToLowerInvariant()] = ByteString.CopyFromUtf8("x");
        var read = new List<string>();
        Assert.Null(HttpFields.Read(header.Headers, (n, _) => read.Add(n)));
        Assert.Empty(read);
    }

    [Fact]
    public void Te_OnlyTrailersCrosses()
    {
        var header = new Hdr();
        HttpFields.Write(header.Headers, new HeaderDictionary { ["TE"] = "gzip" });
        Assert.Empty(header.Headers);
        HttpFields.Write(header.Headers, new HeaderDictionary { ["TE"] = "trailers" });
        Assert.Equal("trailers", header.Headers["te"].ToStringUtf8());
    }

    [Theory]
    [InlineData("bad name", "x", "not a field name")]
    [InlineData("x-cr", "a\rb", "control character")]
    [InlineData("x-nul", "a\0b", "control character")]
    [InlineData("x-esc", "a\u001bb", "control character")]
    public void Read_RefusesBadNamesAndValues(string name, string value, string expected)
    {
        var header = new Hdr();
        header.Headers[name] = ByteString.CopyFrom(Encoding.Latin1.GetBytes(value));

        string? problem = HttpFields.Read(header.Headers, (_, _) => Assert.Fail("nothing is added when a field is bad"));

        Assert.NotNull(problem);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Read_RefusesMoreThanTheLimits()
    {
        var tooBig = new Hdr();
        tooBig.Headers["x-big"] = ByteString.CopyFrom(new byte[HttpLimits.MaxFieldBytes]);
        Assert.Contains("over", HttpFields.Read(tooBig.Headers, (_, _) => { }));

        var tooMany = new Hdr();
        tooMany.Headers["x-many"] = ByteString.CopyFromUtf8(string.Join('\n', Enumerable.Repeat("v", HttpLimits.MaxFieldLines + 1)));
        Assert.Contains("more than", HttpFields.Read(tooMany.Headers, (_, _) => { }));
    }

    [Fact]
    public void Read_SkipsControlEntries()
    {
        var header = new Hdr();
        HttpEntries.PutNumber(header.Headers, HttpEntries.Stream, 7);
        HttpEntries.PutEnd(header.Headers);
        header.Headers["x-real"] = ByteString.CopyFromUtf8("1");
        var read = new List<string>();

        Assert.Null(HttpFields.Read(header.Headers, (n, _) => read.Add(n)));

        Assert.Equal(["x-real"], read);
    }
}
