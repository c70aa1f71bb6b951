using System.Diagnostics.CodeAnalysis;

namespace Kaze.Core;

/// <summary>Throw sites kept out of hot methods so those stay small enough to inline.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowClaimPending() =>
        throw new InvalidOperationException("A claim is already pending on this ring writer: commit it before claiming again (a writer is single-threaded).");

    [DoesNotReturn]
    public static void ThrowNoClaim() =>
        throw new InvalidOperationException("Commit without a pending claim.");

    [DoesNotReturn]
    public static void ThrowCommitTooLong(int length, int claimed) =>
        throw new ArgumentOutOfRangeException(nameof(length), length, $"Commit length exceeds the claimed length {claimed}.");

    [DoesNotReturn]
    public static void ThrowNegativeLength(int length) =>
        throw new ArgumentOutOfRangeException(nameof(length), length, "A record length cannot be negative.");

    [DoesNotReturn]
    public static void ThrowWaitPending() =>
        throw new InvalidOperationException("An asynchronous wait is already pending on this ring end (each ring end is used by one thread or one async flow at a time).");

    [DoesNotReturn]
    public static void ThrowDisposed() => throw new ObjectDisposedException(nameof(ShmChannel));
}
