namespace Kaze.Protocol.Tests;

public sealed class HdrTests
{
    [Fact]
    public void CreateRequest_Fields_SetsReqTimeoutRouteAndVersion()
    {
        var header = Hdr.CreateRequest(new Ident(0x01020304), "echo.req", sequence: 42, timeoutMilliseconds: 1500);

        Assert.Equal("echo.req", header.BodyType);
        Assert.Equal(Hdr.RpcTypeOneofCase.Req, header.RpcTypeCase);
        Assert.Equal(42u, header.Req);
        Assert.Equal(1500u, header.Timeout);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, header.RouteTypeCase);
        Assert.Equal(0x01020304u, header.DstIdent);
        Assert.Equal(ProtocolVersion.Current, header.Version);
        Assert.Equal(0u, header.SrcIdent);
        Assert.True(header.ExpectsResponse);
    }

    [Fact]
    public void CreateRequest_ZeroTimeout_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Hdr.CreateRequest(Ident.Any, "x", 1, 0));
    }

    [Fact]
    public void CreateNotify_Fields_HasNoSequenceNoTimeout()
    {
        var header = Hdr.CreateNotify(Ident.Any, "log.line");

        Assert.Equal("log.line", header.BodyType);
        Assert.Equal(Hdr.RpcTypeOneofCase.None, header.RpcTypeCase);
        Assert.Equal(0u, header.Timeout);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, header.RouteTypeCase);
        Assert.Equal(0u, header.DstIdent);
        Assert.Equal(ProtocolVersion.Current, header.Version);
        Assert.False(header.ExpectsResponse);
    }

    [Fact]
    public void CreateResponse_Request_AnswersSenderWithItsSequence()
    {
        var request = Hdr.CreateRequest(new Ident(9), "echo.req", sequence: 77, timeoutMilliseconds: 100);
        request.SrcIdent = 0x0A000001;
        request.Headers["trace"] = Google.Protobuf.ByteString.CopyFromUtf8("abc");

        var response = Hdr.CreateResponse(request, RetCode.Timeout, "echo.rsp");

        Assert.Equal(Hdr.RpcTypeOneofCase.Rsp, response.RpcTypeCase);
        Assert.Equal(77u, response.Rsp);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, response.RouteTypeCase);
        Assert.Equal(0x0A000001u, response.DstIdent);
        Assert.Equal((uint)RetCode.Timeout, response.RetCode);
        Assert.Equal("echo.rsp", response.BodyType);
        Assert.Equal(0u, response.Timeout);
        Assert.Equal(0u, response.SrcIdent);
        Assert.Equal(ProtocolVersion.Current, response.Version);
        Assert.Empty(response.Headers);
        Assert.False(response.ExpectsResponse);
    }

    [Fact]
    public void CreateResponse_DefaultBodyType_IsEmpty()
    {
        var request = Hdr.CreateRequest(Ident.Any, "echo.req", 1, 100);

        Assert.Equal("", Hdr.CreateResponse(request, RetCode.Unreachable).BodyType);
    }

    [Fact]
    public void CreateResponse_NotARequest_Throws()
    {
        var notify = Hdr.CreateNotify(Ident.Any, "x");
        var response = new Hdr { Rsp = 1 };

        Assert.Throws<ArgumentException>(() => Hdr.CreateResponse(notify, RetCode.Ok));
        Assert.Throws<ArgumentException>(() => Hdr.CreateResponse(response, RetCode.Ok));
    }

    [Fact]
    public void ExpectsResponse_RequestWithoutTimeout_IsFalse()
    {
        Assert.False(new Hdr { Req = 1, Timeout = 0 }.ExpectsResponse);
        Assert.True(new Hdr { Req = 1, Timeout = 1 }.ExpectsResponse);
        Assert.False(new Hdr { Rsp = 1, Timeout = 1 }.ExpectsResponse);
    }
    [Fact]
    public void Clear_EveryFieldTheDescriptorLists_BackToANewHeader()
    {
        // Set through reflection on the descriptor, so a field added to kaze.proto and forgotten in Clear fails here.
        var header = new Hdr();
        foreach (Google.Protobuf.Reflection.FieldDescriptor field in Hdr.Descriptor.Fields.InFieldNumberOrder())
        {
            object value = field.FieldType switch
            {
                Google.Protobuf.Reflection.FieldType.String => "x",
                Google.Protobuf.Reflection.FieldType.UInt32 => 7u,
                Google.Protobuf.Reflection.FieldType.Message when field.IsMap => null!,
                Google.Protobuf.Reflection.FieldType.Message => field.MessageType.Parser.ParseFrom([8, 1]),
                _ => throw new InvalidOperationException($"field {field.Name}: type {field.FieldType} not covered by this test"),
            };
            if (field.IsMap)
            {
                header.Headers["k"] = Google.Protobuf.ByteString.CopyFromUtf8("v");
            }
            else
            {
                field.Accessor.SetValue(header, value);
            }
        }

        // The last member set of each oneof wins; the other members are set and cleared below.
        Assert.NotEqual(new Hdr(), header);
        header.Clear();
        Assert.Equal(new Hdr(), header);
        Assert.Equal(0, header.CalculateSize());

        header.Req = 5;
        header.DstIdent = 9;
        header.Clear();
        Assert.Equal(new Hdr(), header);
    }

    [Fact]
    public void Clear_ThenParseInto_SameAsAFreshParse()
    {
        Hdr original = Hdr.CreateRequest(new Ident(3), "echo", 11, 250);
        original.Headers["trace"] = Google.Protobuf.ByteString.CopyFromUtf8("t");
        byte[] payload = new byte[RingFraming.GetPayloadSize(original, 2)];
        RingFraming.Write(payload, original, [1, 2]);
        Hdr reused = Hdr.CreateResponse(Hdr.CreateRequest(new Ident(4), "other", 1, 1), RetCode.Timeout, "junk");
        reused.Headers["stale"] = Google.Protobuf.ByteString.CopyFromUtf8("s");

        Assert.True(RingFraming.TryDecodeInto(payload, reused, out ReadOnlySpan<byte> body, out DecodeError error), error.ToString());

        Assert.Equal(original, reused);
        Assert.Equal([1, 2], body.ToArray());
    }
}
