using System.Globalization;
using Kaze.Cli.Tests.Infrastructure;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// What a series of calls by a Kaze.MeshHost got back, parsed from its answer line:
/// <c>calls=N ok=N failed=N codes=Ok:N,Unreachable:N sources=0.0.1.2:N,... mismatches=N max_ms=X</c>.
/// </summary>
internal sealed record CallSummary(string Line, int Calls, int Ok, int Failed, IReadOnlyDictionary<string, int> Codes, IReadOnlyDictionary<string, int> Sources, int Mismatches, double MaxMilliseconds)
{
    public static CallSummary Parse(string line) => new(
        line,
        int.Parse(Fields.Get(line, "calls"), CultureInfo.InvariantCulture),
        int.Parse(Fields.Get(line, "ok"), CultureInfo.InvariantCulture),
        int.Parse(Fields.Get(line, "failed"), CultureInfo.InvariantCulture),
        Counts(Fields.Get(line, "codes")),
        Counts(Fields.Get(line, "sources")),
        int.Parse(Fields.Get(line, "mismatches"), CultureInfo.InvariantCulture),
        Fields.Number(line, "max_ms"));

    /// <summary>How many calls ended with <paramref name="code"/> (a RetCode name, e.g. "Unreachable").</summary>
    public int Count(string code) => Codes.GetValueOrDefault(code);

    public override string ToString() => Line;

    private static Dictionary<string, int> Counts(string text)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        if (text == "none")
        {
            return counts;
        }

        foreach (string part in text.Split(','))
        {
            int colon = part.LastIndexOf(':');
            counts[part[..colon]] = int.Parse(part[(colon + 1)..], CultureInfo.InvariantCulture);
        }

        return counts;
    }
}
