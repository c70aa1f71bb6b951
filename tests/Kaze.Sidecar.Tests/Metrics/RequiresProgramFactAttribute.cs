namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>A fact that needs an external program on PATH; skipped, saying how to get it, when the program is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class RequiresProgramFactAttribute : FactAttribute
{
    public RequiresProgramFactAttribute(string program, string package)
    {
        if (FindOnPath(program) is null)
        {
            Skip = $"'{program}' is not on PATH; install it to run this test (Debian: apt-get install -y {package}).";
        }
    }

    public static string? FindOnPath(string program)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Join(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
