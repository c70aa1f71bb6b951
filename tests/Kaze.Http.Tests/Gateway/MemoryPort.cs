using System.Collections.Concurrent;
using Kaze.Protocol;
using Kaze.Service;

namespace Kaze.Http.Tests.Gateway;

/// <summary>An <see cref="ISidecarPort"/> that keeps what the gateway sends, for the tests to look at.</summary>
internal sealed class MemoryPort(Ident self) : ISidecarPort
{
    private uint _next = 0x8000_0000;

    public Ident Self => self;

    public BlockingCollection<Packet> Sent { get; } = [];

    public uint Track(Hdr request, IAnswerSink sink)
    {
        request.SrcIdent = self.Value;
        request.Req = Interlocked.Increment(ref _next);
        return request.Req;
    }

    public void Forget(uint sequence)
    {
    }

    public void Route(Packet request) => Sent.Add(request);

    public RetCode Send(Packet packet)
    {
        packet.Header.SrcIdent = self.Value;
        Sent.Add(packet);
        return RetCode.Ok;
    }

    /// <summary>The next packet the gateway sent, within a bound.</summary>
    public Packet Next(string what) =>
        Sent.TryTake(out Packet? packet, TimeSpan.FromSeconds(15)) ? packet : throw new Xunit.Sdk.XunitException($"Timed out after 15 s waiting for {what}.");
}
