using System.Diagnostics.CodeAnalysis;

namespace Kaze.Host;

/// <summary>Throw sites for misuse, kept out of the hot methods.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowNotStarted() =>
        throw new InvalidOperationException("Start the client before calling: no reader would see the response.");

    [DoesNotReturn]
    public static void ThrowTooLarge(string bodyType, int size, int max) =>
        throw new ArgumentException($"A '{bodyType}' packet of {size} bytes (header and body) is more than the channel carries ({max} bytes).", "body");

    [DoesNotReturn]
    public static void ThrowBadTimeout(TimeSpan timeout) =>
        throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"A call's timeout must be from 1 ms to {uint.MaxValue} ms.");
}
