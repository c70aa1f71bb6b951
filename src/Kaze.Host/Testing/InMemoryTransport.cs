using Kaze.Core;
using Kaze.Host.Transport;

namespace Kaze.Host.Testing;

/// <summary>The host's end of an <see cref="InMemorySidecar"/>: the client's code path, without shared memory.</summary>
internal sealed class InMemoryTransport : IHostTransport
{
    private readonly InMemorySidecar _sidecar;
    private readonly RecordQueue _fromSidecar;
    // The pending claim is written here, then copied out on Commit (a test transport may allocate).
    private byte[] _claim = new byte[256];
    private volatile bool _closed;

    public InMemoryTransport(InMemorySidecar sidecar, RecordQueue fromSidecar, int maxRecordLength)
    {
        _sidecar = sidecar;
        _fromSidecar = fromSidecar;
        MaxRecordLength = maxRecordLength;
    }

    public string Name => "in-memory " + _sidecar.Ident;

    public int MaxRecordLength { get; }

    public ChannelStatus TryClaim(int length, out Span<byte> payload)
    {
        if ((uint)length > (uint)MaxRecordLength)
        {
            payload = default;
            return ChannelStatus.TooLarge;
        }

        if (_closed || !_sidecar.IsAcceptingFromHost)
        {
            payload = default;
            return ChannelStatus.Closed;
        }

        if (_claim.Length < length)
        {
            _claim = new byte[Math.Max(length, _claim.Length * 2)];
        }

        payload = _claim.AsSpan(0, length);
        return ChannelStatus.Ok;
    }

    public void Commit(int length) => _sidecar.OnHostRecord(_claim.AsSpan(0, length).ToArray());

    public void Abandon()
    {
    }

    // The in-memory channel is never full.
    public ChannelStatus WaitForSpace(int length, TimeSpan timeout) =>
        _closed || !_sidecar.IsAcceptingFromHost ? ChannelStatus.Closed : ChannelStatus.Ok;

    public ChannelStatus TryRead(out ReadOnlySpan<byte> record)
    {
        ChannelStatus status = _fromSidecar.TryDequeue(out byte[]? bytes);
        record = bytes;
        return status;
    }

    // Every record is its own array: nothing to give back.
    public void Release()
    {
    }

    public ChannelStatus WaitToRead(TimeSpan timeout) => _fromSidecar.WaitToRead(timeout);

    public void Close()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        // As on a real channel: this side's reader drains what was sent, then sees Closed.
        _fromSidecar.End(ChannelStatus.Closed);
        _sidecar.OnHostClosed();
    }

    public void Dispose() => Close();

    public string? Corruption => null;

    public void Detach() => Close();
}
