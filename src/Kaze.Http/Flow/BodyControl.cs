using Google.Protobuf;
using Google.Protobuf.Collections;
using Kaze.Http.Protocol;

namespace Kaze.Http.Flow;

/// <summary>The control entries of a <c>kaze.http.up</c> / <c>.down</c> packet that come before its bytes: <c>:reset</c> and <c>:credit</c> (docs/http.md).</summary>
internal static class BodyControl
{
    /// <summary>
    /// Adds the packet's <c>:credit</c> to <paramref name="credit"/> and returns true when the packet
    /// goes on (its bytes, end and trailers); false with the reset's reason (printable) when it
    /// resets the exchange, or with the rule it broke.
    /// </summary>
    public static bool Apply(MapField<string, ByteString> map, SendCredit credit, out string? reset, out string? violation)
    {
        reset = null;
        violation = null;
        if (map.TryGetValue(HttpEntries.Reset, out ByteString? reason))
        {
            reset = HttpFields.Printable(reason.ToStringUtf8());
            return false;
        }

        if (HttpEntries.TryGetNumber(map, HttpEntries.Credit, HttpLimits.MaxCredit, out ulong bytes, out bool valid))
        {
            if (!valid)
            {
                violation = ":credit is not a number up to " + HttpLimits.MaxCredit;
                return false;
            }

            credit.Add((long)bytes);
        }

        return true;
    }
}
