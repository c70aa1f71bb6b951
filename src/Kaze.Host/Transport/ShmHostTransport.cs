using Kaze.Core;

namespace Kaze.Host.Transport;

/// <summary>The host's end of a shared-memory channel (docs/shm-format.md), opened by name.</summary>
internal sealed class ShmHostTransport : IHostTransport
{
    private readonly ShmChannel _channel;
    private readonly RingWriter _writer;
    private readonly RingReader _reader;

    public ShmHostTransport(ShmChannel channel)
    {
        _channel = channel;
        _writer = channel.Writer;
        _reader = channel.Reader;
    }

    public string Name => _channel.Name;

    public int MaxRecordLength => _writer.MaxRecordLength;

    /// <summary>The sidecar's pid as the channel file records it.</summary>
    public int SidecarPid => _channel.PeerPid;

    /// <summary>The channel file.</summary>
    public string FilePath => _channel.FilePath;

    /// <summary>Whether the sidecar process recorded in the file is alive (pid and start time).</summary>
    public bool IsSidecarAlive => _channel.IsPeerAlive();

    public static ShmHostTransport Open(string channelName) => new(ShmChannel.Open(channelName));

    public ChannelStatus TryClaim(int length, out Span<byte> payload) => _writer.TryClaim(length, out payload);

    public void Commit(int length) => _writer.Commit(length);

    public void Abandon() => _writer.Abandon();

    public ChannelStatus WaitForSpace(int length, TimeSpan timeout)
    {
        // Claim waits with the ring's own spin-then-futex; the claim itself is not wanted yet
        // (the caller claims again under its lock), so it is abandoned at once.
        ChannelStatus status = _writer.Claim(length, out _, timeout);
        if (status == ChannelStatus.Ok)
        {
            _writer.Abandon();
        }

        return status;
    }

    public ChannelStatus TryRead(out ReadOnlySpan<byte> record) => _reader.TryRead(out record);

    public void Release() => _reader.Release();

    public ChannelStatus WaitToRead(TimeSpan timeout) => _reader.WaitToRead(timeout);

    public void Close() => _channel.Close();

    public string? Corruption => _channel.Corruption;

    public void Detach() => _channel.Abandon();

    // On the host side Dispose unmaps and never deletes the file: that is the sidecar's.
    public void Dispose() => _channel.Dispose();
}
