using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;

namespace Kaze.Cli.Logging;

/// <summary>
/// Adds <c>Area</c>, the short name the text format shows: the last segment of the category
/// ("Kaze.Sidecar.Corral" → "Corral"), and for a record forwarded from the host, "host", its
/// ident and the last segment of its own category ("host 0.0.0.1 Worker").
/// </summary>
internal sealed class AreaEnricher : ILogEventEnricher
{
    // Categories are few (kaze's, and the host's up to the forwarding plugin's limit): cache their short names.
    private const int MaxCached = 4096;

    private readonly ConcurrentDictionary<string, LogEventProperty> _byCategory = new(StringComparer.Ordinal);

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        if (logEvent.Properties.TryGetValue("HostIdent", out LogEventPropertyValue? ident) && ident is ScalarValue { Value: string hostIdent })
        {
            string hostCategory = Text(logEvent, "HostCategory");
            string area = hostCategory.Length == 0 ? "host " + hostIdent : $"host {hostIdent} {ShortName(hostCategory)}";
            logEvent.AddPropertyIfAbsent(new LogEventProperty("Area", new ScalarValue(area)));
            return;
        }

        string category = Text(logEvent, "SourceContext");
        if (!_byCategory.TryGetValue(category, out LogEventProperty? property))
        {
            property = new LogEventProperty("Area", new ScalarValue(ShortName(category)));
            if (_byCategory.Count < MaxCached)
            {
                _byCategory.TryAdd(category, property);
            }
        }

        logEvent.AddPropertyIfAbsent(property);
    }

    /// <summary>The last dotted segment of <paramref name="category"/> ("kaze" for none).</summary>
    internal static string ShortName(string category)
    {
        if (category.Length == 0)
        {
            return "kaze";
        }

        int dot = category.LastIndexOf('.');
        return dot < 0 || dot == category.Length - 1 ? category : category[(dot + 1)..];
    }

    private static string Text(LogEvent logEvent, string name) =>
        logEvent.Properties.TryGetValue(name, out LogEventPropertyValue? value) && value is ScalarValue { Value: string text } ? text : "";
}
