using Google.Protobuf;
using Kaze.Http.Protocol;
using Kaze.Protocol;

namespace Kaze.Http.Tests.Protocol;

public sealed class HeadCodecTests
{
    [Fact]
    public void RequestLine_RoundTrips_VersionDefaultsTo11()
    {
        var header = new Hdr();
        HeadCodec.WriteRequestLine(header.Headers, "POST", "/a/b?c=d", "1.1");

        Assert.Null(HeadCodec.ReadRequestLine(header, out string method, out string target, out string version));

        Assert.Equal("POST", method);
        Assert.Equal("/a/b?c=d", target);
        Assert.Equal("1.1", version);
        Assert.False(header.Headers.ContainsKey(HttpEntries.Version), "1.1 is the default and is not written");
    }

    [Theory]
    [InlineData(null, "/", null, "no :method")]
    [InlineData("GET", null, null, "no :path")]
    [InlineData("GE T", "/", null, "not a token")]
    [InlineData("GET", "x", null, "origin form")]
    [InlineData("GET", "/a b", null, "origin form")]
    [InlineData("GET", "/a\u00e9", null, "origin form")]
    [InlineData("GET", "/", "3", ":version")]
    public void RequestLine_Malformed_SaysWhat(string? method, string? path, string? version, string expected)
    {
        var header = new Hdr();
        if (method is not null)
        {
            header.Headers[HttpEntries.Method] = ByteString.CopyFromUtf8(method);
        }

        if (path is not null)
        {
            header.Headers[HttpEntries.Path] = ByteString.CopyFromUtf8(path);
        }

        if (version is not null)
        {
            header.Headers[HttpEntries.Version] = ByteString.CopyFromUtf8(version);
        }

        Assert.Contains(expected, HeadCodec.ReadRequestLine(header, out _, out _, out _));
    }

    [Fact]
    public void RequestLine_OverTheLimit_Refused()
    {
        var header = new Hdr();
        HeadCodec.WriteRequestLine(header.Headers, "GET", "/" + new string('a', HttpLimits.MaxRequestLine), "1.1");

        Assert.Contains("over", HeadCodec.ReadRequestLine(header, out _, out _, out _));
    }

    [Theory]
    [InlineData("200", null)]
    [InlineData("599", null)]
    [InlineData("100", "200 to 599")]
    [InlineData("600", "200 to 599")]
    [InlineData("2x0", "200 to 599")]
    [InlineData("", "200 to 599")]
    public void Status_OnlyFinalCodes(string value, string? expected)
    {
        var header = new Hdr();
        header.Headers[HttpEntries.Status] = ByteString.CopyFromUtf8(value);

        string? problem = HeadCodec.ReadStatus(header, out int status);

        if (expected is null)
        {
            Assert.Null(problem);
            Assert.Equal(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture), status);
        }
        else
        {
            Assert.Contains(expected, problem);
        }
    }

    [Theory]
    [InlineData("http", Kaze.Service.EndpointClaim.Routed)]
    [InlineData("kaze.http.req", Kaze.Service.EndpointClaim.Routed)]
    [InlineData("kaze.http.rsp", Kaze.Service.EndpointClaim.Direct)]
    [InlineData("kaze.http.up", Kaze.Service.EndpointClaim.Direct)]
    [InlineData("kaze.http.down", Kaze.Service.EndpointClaim.Direct)]
    [InlineData("echo", Kaze.Service.EndpointClaim.None)]
    [InlineData("https", Kaze.Service.EndpointClaim.None)]
    [InlineData("kaze.http.xyz", Kaze.Service.EndpointClaim.None)]
    [InlineData("", Kaze.Service.EndpointClaim.None)]
    public void BodyTypes_ClaimedAsDocumented(string bodyType, Kaze.Service.EndpointClaim claim) =>
        Assert.Equal(claim, HttpBodyTypes.Claim(bodyType));
}
