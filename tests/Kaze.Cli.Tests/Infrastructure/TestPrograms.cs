using System.Reflection;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// Where the programs under test were built: kaze (src/Kaze.Cli), Kaze.Echo (examples/Echo),
/// Kaze.Quickstart (examples/Quickstart) and Kaze.TestHost (tests/Kaze.TestHost). The csproj records each dll's path in this assembly's
/// metadata when it builds them; a missing file fails the test with what to build.
/// </summary>
internal static class TestPrograms
{
    private static readonly Lazy<string> s_kaze = new(() => Find("KazeCliPath", "kaze.dll"));
    private static readonly Lazy<string> s_echo = new(() => Find("KazeEchoPath", "Kaze.Echo.dll"));
    private static readonly Lazy<string> s_quickstart = new(() => Find("KazeQuickstartPath", "Kaze.Quickstart.dll"));
    private static readonly Lazy<string> s_testHost = new(() => Find("KazeTestHostPath", "Kaze.TestHost.dll"));
    private static readonly Lazy<string> s_testHttpApp = new(() => Find("KazeTestHttpAppPath", "Kaze.TestHttpApp.dll"));
    private static readonly Lazy<string> s_dotnet = new(FindDotnet);

    /// <summary>kaze.dll, run as <c>dotnet kaze.dll</c>.</summary>
    public static string Kaze => s_kaze.Value;

    /// <summary>Kaze.Echo.dll.</summary>
    public static string Echo => s_echo.Value;

    /// <summary>Kaze.Quickstart.dll.</summary>
    public static string Quickstart => s_quickstart.Value;

    /// <summary>Kaze.TestHost.dll.</summary>
    public static string TestHost => s_testHost.Value;

    /// <summary>Kaze.TestHttpApp.dll: the HTTP (and gRPC) app of the HTTP tests.</summary>
    public static string TestHttpApp => s_testHttpApp.Value;

    /// <summary>The dotnet host that runs these tests (dotnet test sets DOTNET_HOST_PATH): an absolute path, so kaze's PATH lookup plays no part.</summary>
    public static string Dotnet => s_dotnet.Value;

    private static string Find(string key, string fileName)
    {
        string? recorded = typeof(TestPrograms).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value;
        if (!string.IsNullOrEmpty(recorded) && File.Exists(recorded))
        {
            return recorded;
        }

        throw new InvalidOperationException(
            $"{fileName} not found (recorded path '{recorded}'): build tests/Kaze.Cli.Tests, which builds src/Kaze.Cli, examples/Echo, examples/Quickstart and tests/Kaze.TestHost first.");
    }

    private static string FindDotnet()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, "dotnet");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("No dotnet host found (DOTNET_HOST_PATH, this process, PATH).");
    }
}
