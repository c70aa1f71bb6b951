using System.Diagnostics.CodeAnalysis;

namespace Kaze.Resolver;

/// <summary>Throw sites kept out of the hot methods so those stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowFormatException(string message) =>
        throw new FormatException(message);

    [DoesNotReturn]
    public static void ThrowInvalidOptions(string component, IReadOnlyList<string> errors) =>
        throw new ArgumentException($"Invalid {component}: {string.Join("; ", errors)}");
}
