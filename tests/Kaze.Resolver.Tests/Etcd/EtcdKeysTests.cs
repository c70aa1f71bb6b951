using System.Text;
using Kaze.Protocol;
using Kaze.Resolver.Etcd;

namespace Kaze.Resolver.Tests.Etcd;

public sealed class EtcdKeysTests
{
    private readonly EtcdKeys _keys = new("/kaze");

    [Theory]
    [InlineData("/kaze", "/kaze/nodes/0.0.0.1")]
    [InlineData("/kaze/", "/kaze/nodes/0.0.0.1")]
    [InlineData("/clusters/a", "/clusters/a/nodes/0.0.0.1")]
    [InlineData("", "/nodes/0.0.0.1")]
    public void NodeKey_Prefix_IsPrefixNodesDottedIdent(string prefix, string expected)
    {
        Assert.Equal(expected, new EtcdKeys(prefix).NodeKey(new Ident(1)));
    }

    [Theory]
    [InlineData("/kaze/nodes/1.2.3.4", true, 0x01020304u)]
    [InlineData("/kaze/nodes/0.0.0.10", true, 10u)]
    [InlineData("/kaze/nodes/010.0.0.1", false, 0u)]
    [InlineData("/kaze/nodes/not-an-ident", false, 0u)]
    [InlineData("/kaze/nodes/1.2.3.4/extra", false, 0u)]
    [InlineData("/other/nodes/1.2.3.4", false, 0u)]
    public void TryParseNodeKey_Key_AcceptsOnlyCanonicalIdentsUnderThePrefix(string key, bool ok, uint ident)
    {
        Assert.Equal(ok, _keys.TryParseNodeKey(key, out Ident parsed));
        if (ok)
        {
            Assert.Equal(new Ident(ident), parsed);
        }
    }

    [Fact]
    public void PrefixRangeEnd_Prefix_IsLastBytePlusOne()
    {
        Assert.Equal("/kaze/nodes0", Encoding.UTF8.GetString(EtcdKeys.PrefixRangeEnd(Encoding.UTF8.GetBytes("/kaze/nodes/"))));
        Assert.Equal(new byte[] { 0x61, 0x63 }, EtcdKeys.PrefixRangeEnd([0x61, 0x62, 0xFF]));
        Assert.Equal(new byte[] { 0 }, EtcdKeys.PrefixRangeEnd([0xFF, 0xFF]));
    }
}
