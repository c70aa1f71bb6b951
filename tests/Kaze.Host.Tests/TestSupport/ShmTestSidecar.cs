using Kaze.Core;
using Kaze.Protocol;
using Xunit.Sdk;

namespace Kaze.Host.Tests.TestSupport;

/// <summary>
/// The test plays the sidecar on a real channel: creates it (a unique name, removed on dispose),
/// and reads and writes packets with Kaze.Core and RingFraming, as the real edge does.
/// </summary>
internal sealed class ShmTestSidecar : IDisposable
{
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(10);

    private ShmTestSidecar(ShmChannel channel, Ident ident)
    {
        Channel = channel;
        Ident = ident;
    }

    public ShmChannel Channel { get; }

    public Ident Ident { get; }

    public string Name => Channel.Name;

    public static ShmTestSidecar Create(int capacity = 1 << 16, Ident? ident = null) =>
        new(
            ShmChannel.Create("kaze-host-test-" + Guid.NewGuid().ToString("N")[..12], new ChannelOptions { SidecarToHostCapacity = capacity, HostToSidecarCapacity = capacity }),
            ident ?? new Ident(1));

    public KazeClient Connect(KazeClientOptions? options = null) =>
        KazeClient.Connect(new SidecarEndpoint(Name, Ident, Environment.ProcessId), options);

    /// <summary>Writes one packet to the host, waiting (bounded) for ring space.</summary>
    public void Write(Hdr header, ReadOnlySpan<byte> body)
    {
        byte[] payload = new byte[RingFraming.GetPayloadSize(header, body.Length)];
        RingFraming.Write(payload, header, body);
        ChannelStatus status = Channel.Writer.Write(payload, IoTimeout);
        if (status != ChannelStatus.Ok)
        {
            throw new XunitException($"Writing {header.BodyType} to the host: {status} after up to {IoTimeout.TotalSeconds} s (the host stopped reading?)");
        }
    }

    /// <summary>Reads the host's next packet, waiting (bounded) for it.</summary>
    public (Hdr Header, byte[] Body) Read(string what)
    {
        ChannelStatus status = Channel.Reader.Read(out ReadOnlySpan<byte> record, IoTimeout);
        if (status != ChannelStatus.Ok)
        {
            throw new XunitException($"Reading {what} from the host: {status} after up to {IoTimeout.TotalSeconds} s");
        }

        if (!RingFraming.TryDecode(record, out Hdr? header, out ReadOnlySpan<byte> body, out DecodeError error))
        {
            throw new XunitException($"Reading {what} from the host: not a packet ({error})");
        }

        byte[] copy = body.ToArray();
        Channel.Reader.Release();
        // As the real sidecar does to everything from its host.
        header.SrcIdent = Ident.Value;
        return (header, copy);
    }

    public void Dispose() => Channel.Dispose();
}
