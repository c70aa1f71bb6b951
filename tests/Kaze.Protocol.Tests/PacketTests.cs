namespace Kaze.Protocol.Tests;

public sealed class PacketTests
{
    [Fact]
    public void Create_Body_CopiesIntoItsOwnBuffer()
    {
        byte[] body = [1, 2, 3];
        var header = new Hdr { BodyType = "x" };

        using var packet = Packet.Create(header, body);
        body[0] = 99;

        Assert.Same(header, packet.Header);
        Assert.Equal(3, packet.BodyLength);
        Assert.Equal([1, 2, 3], packet.Body.ToArray());
        Assert.Equal([1, 2, 3], packet.BodySpan.ToArray());
    }

    [Fact]
    public void Create_EmptyBody_HasEmptyBody()
    {
        using var packet = Packet.Create(new Hdr(), []);

        Assert.Equal(0, packet.BodyLength);
        Assert.True(packet.Body.IsEmpty);
    }

    [Fact]
    public void Body_AfterDispose_Throws()
    {
        var packet = Packet.Create(new Hdr(), [1, 2, 3]);

        packet.Dispose();

        Assert.Throws<ObjectDisposedException>(() => packet.Body);
        Assert.Throws<ObjectDisposedException>(() => packet.BodySpan.Length);
    }

    [Fact]
    public void Dispose_Twice_DoesNothingTheSecondTime()
    {
        var packet = Packet.Create(new Hdr(), new byte[100]);
        var empty = Packet.Create(new Hdr(), []);

        packet.Dispose();
        packet.Dispose();
        empty.Dispose();
        empty.Dispose();

        Assert.Throws<ObjectDisposedException>(() => empty.Body);
    }

    [Fact]
    public void CreateRequest_Body_HasRequestHeaderAndBody()
    {
        using var packet = Packet.CreateRequest(new Ident(5), "echo.req", 3, 250, "ping"u8);

        Assert.Equal(3u, packet.Header.Req);
        Assert.Equal(250u, packet.Header.Timeout);
        Assert.Equal(5u, packet.Header.DstIdent);
        Assert.Equal("ping"u8.ToArray(), packet.Body.ToArray());
    }

    [Fact]
    public void CreateNotify_Body_HasNotifyHeaderAndBody()
    {
        using var packet = Packet.CreateNotify(Ident.Any, "log.line", "hello"u8);

        Assert.Equal(Hdr.RpcTypeOneofCase.None, packet.Header.RpcTypeCase);
        Assert.Equal("log.line", packet.Header.BodyType);
        Assert.Equal("hello"u8.ToArray(), packet.Body.ToArray());
    }

    [Fact]
    public void CreateResponse_Request_SetsRspDstIdentAndRetCode()
    {
        var request = new Hdr { SrcIdent = 0x01020304, Req = 11, Timeout = 100, DstIdent = 9, BodyType = "echo.req" };

        using var packet = Packet.CreateResponse(request, RetCode.ResourceExhausted, "busy"u8, "echo.rsp");

        Assert.Equal(11u, packet.Header.Rsp);
        Assert.Equal(0x01020304u, packet.Header.DstIdent);
        Assert.Equal((uint)RetCode.ResourceExhausted, packet.Header.RetCode);
        Assert.Equal("echo.rsp", packet.Header.BodyType);
        Assert.Equal("busy"u8.ToArray(), packet.Body.ToArray());
    }
}
