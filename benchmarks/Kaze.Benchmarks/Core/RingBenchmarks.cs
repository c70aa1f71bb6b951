using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Kaze.Core;

namespace Kaze.Benchmarks.Core;

/// <summary>
/// One ring of a real channel file, both ends in this process on one thread: the cost of the
/// ring's own bookkeeping (claims, commits, fences, reads, releases) with no cross-core traffic.
/// Each operation is one message written and read back. The baseline copies the same bytes into
/// a plain byte[] ring with the same record format, with no shared memory and no fences.
/// </summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private const int Batch = 64;

    private ShmChannel? _sidecar;
    private ShmChannel? _host;
    private RingWriter _writer = null!;
    private RingReader _reader = null!;
    private byte[] _message = [];
    private byte[] _arrayRing = [];
    private int _arrayPos;

    /// <summary>Payload bytes per message.</summary>
    [Params(64, 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string name = $"bench-{Environment.ProcessId}-micro-{Guid.NewGuid():N}";
        _sidecar = ShmChannel.Create(name);
        _host = ShmChannel.Open(name);
        _writer = _sidecar.Writer;
        _reader = _host.Reader;
        _message = new byte[PayloadSize];
        new Random(42).NextBytes(_message);
        _arrayRing = new byte[_writer.Capacity];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _host?.Dispose();
        _sidecar?.Dispose();
    }

    /// <summary>The floor: write [length][payload] into a byte[] ring and read the length and first byte back.</summary>
    [Benchmark(Baseline = true)]
    public int ArrayRingCopy()
    {
        int record = (4 + PayloadSize + 7) & ~7;
        int pos = _arrayPos;
        if (pos + record > _arrayRing.Length)
        {
            pos = 0;
        }

        BinaryPrimitives.WriteInt32LittleEndian(_arrayRing.AsSpan(pos), PayloadSize);
        _message.CopyTo(_arrayRing.AsSpan(pos + 4));
        _arrayPos = pos + record;
        return BinaryPrimitives.ReadInt32LittleEndian(_arrayRing.AsSpan(pos)) + _arrayRing[pos + 4];
    }

    /// <summary>TryClaim, copy, Commit (publishes), then TryRead and Release: two fences per message.</summary>
    [Benchmark]
    public int ClaimCommitReadRelease()
    {
        if (_writer.TryClaim(PayloadSize, out Span<byte> payload) != ChannelStatus.Ok)
        {
            return Fail();
        }

        _message.CopyTo(payload);
        _writer.Commit(PayloadSize);
        if (_reader.TryRead(out ReadOnlySpan<byte> record) != ChannelStatus.Ok)
        {
            return Fail();
        }

        int result = record.Length + record[0];
        _reader.Release();
        return result;
    }

    /// <summary>64 claims committed without publishing, one Publish; 64 reads, one Release. Per message.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Batched64()
    {
        for (int i = 0; i < Batch; i++)
        {
            if (_writer.TryClaim(PayloadSize, out Span<byte> payload) != ChannelStatus.Ok)
            {
                return Fail();
            }

            _message.CopyTo(payload);
            _writer.Commit(PayloadSize, publish: false);
        }

        _writer.Publish();
        int result = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (_reader.TryRead(out ReadOnlySpan<byte> record) != ChannelStatus.Ok)
            {
                return Fail();
            }

            result += record.Length + record[0];
        }

        _reader.Release();
        return result;
    }

    private static int Fail() => throw new InvalidOperationException("the ring refused a claim or read in a single-threaded benchmark");
}
