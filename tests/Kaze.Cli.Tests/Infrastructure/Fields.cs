using System.Globalization;
using Xunit;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>Reads <c>key=value</c> words from the result lines of Kaze.TestHost and Kaze.Echo.</summary>
internal static class Fields
{
    public static string Get(string line, string key)
    {
        foreach (string word in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return word[(key.Length + 1)..];
            }
        }

        Assert.Fail($"'{key}=' not found in the line: {line}");
        return "";
    }

    public static double Number(string line, string key) => double.Parse(Get(line, key), NumberStyles.Float, CultureInfo.InvariantCulture);
}
