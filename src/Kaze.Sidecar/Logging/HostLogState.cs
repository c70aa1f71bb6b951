using System.Collections;

namespace Kaze.Sidecar.Logging;

/// <summary>
/// The state of one host record as the sidecar logs it: the message, plus the host's ident and
/// original category (and its timestamp, when it sent one) as structured properties.
/// </summary>
/// <remarks>
/// Shaped as the source-generated logging methods' state (a list of name/value pairs ending in
/// <c>{OriginalFormat}</c>), so Serilog takes the pairs as properties: <c>HostIdent</c>,
/// <c>HostCategory</c> and <c>HostTimestamp</c> appear in JSON lines, and the text format shows
/// the message as it is (the template is "{Message:l}": no quotes, no template parsing of the host's text).
/// </remarks>
internal sealed class HostLogState(string hostIdent, HostLogRecord record) : IReadOnlyList<KeyValuePair<string, object?>>
{
    /// <summary>Formats the state for providers that want a string.</summary>
    public static readonly Func<HostLogState, Exception?, string> Format = static (state, _) => state.Message;

    private const string Template = "{Message:l}";

    public string Message => record.Message;

    public int Count => record.Timestamp is null ? 4 : 5;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("Message", record.Message),
        1 => new("HostIdent", hostIdent),
        2 => new("HostCategory", record.Category),
        3 when record.Timestamp is not null => new("HostTimestamp", record.Timestamp.Value),
        _ when index == Count - 1 => new("{OriginalFormat}", Template),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => record.Message;
}

/// <summary>
/// The host's exception, as the text it sent: a .NET exception cannot cross the channel, but its
/// <see cref="ToString"/> is what sinks write, so the host's text (type, message, stack) appears as is.
/// </summary>
#pragma warning disable CA1032, CA1064 // Not thrown, never caught: a carrier for sinks, made only here.
internal sealed class HostException(string text) : Exception(FirstLine(text))
#pragma warning restore CA1032, CA1064
{
    public override string ToString() => text;

    private static string FirstLine(string text)
    {
        int end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).TrimEnd('\r');
    }
}
