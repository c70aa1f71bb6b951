using System.Runtime.CompilerServices;
using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>The hot path allocates nothing: claim/commit and read/release, and the copying Try* on top of them.</summary>
public sealed class RingAllocationTests : IDisposable
{
    private const int Pairs = 100_000;

    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void TryClaimCommitTryReadRelease_100kPairsAfterWarmUp_AllocateZeroBytes()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 4096);
        // Warm-up: let the JIT reach its final tier for the loop (call counting and OSR happen here, not below).
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(0, ClaimCommitReadRelease(pair.Writer, pair.Reader, 2_000));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int failures = ClaimCommitReadRelease(pair.Writer, pair.Reader, Pairs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, failures);
        Assert.True(allocated == 0, $"{Pairs} TryClaim/Commit + TryRead/Release pairs allocated {allocated} bytes");
    }

    [Fact]
    public void TryWriteTryReadIntoBuffer_100kPairsAfterWarmUp_AllocateZeroBytes()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 4096);
        byte[] source = new byte[100];
        byte[] destination = new byte[100];
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(0, WriteRead(pair.Writer, pair.Reader, source, destination, 2_000));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int failures = WriteRead(pair.Writer, pair.Reader, source, destination, Pairs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, failures);
        Assert.True(allocated == 0, $"{Pairs} TryWrite + TryRead(Span) pairs allocated {allocated} bytes");
    }

    /// <summary>Returns the number of operations that did not return Ok (asserting inside would allocate).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ClaimCommitReadRelease(RingWriter writer, RingReader reader, int count)
    {
        int failures = 0;
        for (int i = 0; i < count; i++)
        {
            // Varying sizes so records wrap at varying offsets (padding records included).
            int length = (i * 37) % 300;
            if (writer.TryClaim(length, out Span<byte> payload) != ChannelStatus.Ok)
            {
                failures++;
                continue;
            }

            payload.Fill((byte)i);
            writer.Commit();
            if (reader.TryRead(out ReadOnlySpan<byte> record) != ChannelStatus.Ok || record.Length != length)
            {
                failures++;
            }

            reader.Release();
        }

        return failures;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int WriteRead(RingWriter writer, RingReader reader, byte[] source, byte[] destination, int count)
    {
        int failures = 0;
        for (int i = 0; i < count; i++)
        {
            int length = i % 101;
            if (writer.TryWrite(source.AsSpan(0, length)) != ChannelStatus.Ok
                || reader.TryRead(destination, out int read) != ChannelStatus.Ok
                || read != length)
            {
                failures++;
            }
        }

        return failures;
    }
}
