using System.Reflection;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>Where tests/Kaze.MeshHost was built: the csproj records Kaze.MeshHost.dll's path in this assembly, as for the other programs (Infrastructure/TestPrograms).</summary>
internal static class MeshHostProgram
{
    private static readonly Lazy<string> s_path = new(() =>
    {
        string? recorded = typeof(MeshHostProgram).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "KazeMeshHostPath")?.Value;
        return !string.IsNullOrEmpty(recorded) && File.Exists(recorded)
            ? recorded
            : throw new InvalidOperationException($"Kaze.MeshHost.dll not found (recorded path '{recorded}'): build tests/Kaze.Cli.Tests, which builds tests/Kaze.MeshHost first.");
    });

    /// <summary>Kaze.MeshHost.dll, run as <c>dotnet Kaze.MeshHost.dll serve SOCKET</c>.</summary>
    public static string Path => s_path.Value;
}
