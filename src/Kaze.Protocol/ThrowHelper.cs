using System.Diagnostics.CodeAnalysis;

namespace Kaze.Protocol;

/// <summary>Throw sites for misuse, kept out of the hot methods so those stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgumentException(string message, string paramName) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void ThrowDestinationTooSmall(string paramName, int needed, int actual) =>
        throw new ArgumentException($"The destination has {actual} bytes; {needed} are needed.", paramName);

    [DoesNotReturn]
    public static void ThrowTooLarge(string paramName, long size) =>
        throw new ArgumentException($"The packet would take {size} bytes; at most {int.MaxValue} are supported.", paramName);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string typeName) =>
        throw new ObjectDisposedException(typeName);

    [DoesNotReturn]
    public static void ThrowFormatException(string message) =>
        throw new FormatException(message);
}
