namespace Kaze.Protocol.Tests.TestSupport;

internal static class Frames
{
    public static byte[] Tcp(Hdr header, ReadOnlySpan<byte> body)
    {
        var frame = new byte[TcpFraming.GetFrameSize(header, body.Length)];
        TcpFraming.Write(frame, header, body);
        return frame;
    }

    public static byte[] Ring(Hdr header, ReadOnlySpan<byte> body)
    {
        var payload = new byte[RingFraming.GetPayloadSize(header, body.Length)];
        RingFraming.Write(payload, header, body);
        return payload;
    }
}
