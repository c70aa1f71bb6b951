namespace Kaze.Sidecar.Configuration;

/// <summary>The known name closest to a mistyped one, for " (did you mean "X"?)" in messages.</summary>
public static class DidYouMean
{
    /// <summary>
    /// " (did you mean \"X\"?)" when one of <paramref name="known"/> is within a few edits of
    /// <paramref name="typed"/> (a third of its length, at least one; any case), else "".
    /// </summary>
    public static string Suggest(string typed, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(typed);
        ArgumentNullException.ThrowIfNull(known);
        string? best = Closest(typed, known);
        return best is null ? "" : $" (did you mean \"{best}\"?)";
    }

    /// <summary>The one of <paramref name="known"/> within a few edits of <paramref name="typed"/>, or null.</summary>
    public static string? Closest(string typed, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(typed);
        ArgumentNullException.ThrowIfNull(known);
        string? best = null;
        int bestDistance = int.MaxValue;
        string lower = typed.ToLowerInvariant();
        foreach (string candidate in known)
        {
            int distance = EditDistance(lower, candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return best is not null && bestDistance <= Math.Max(1, typed.Length / 3) ? best : null;
    }

    // Edits (insert, delete, substitute, swap two neighbours) from a to b: "idnet" is 1 from "ident".
    private static int EditDistance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(d[i - 1, j - 1] + cost, Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
