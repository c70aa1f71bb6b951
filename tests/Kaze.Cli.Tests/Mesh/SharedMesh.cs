using Xunit;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// A class fixture: the three sidecars of <see cref="LoopbackMesh.ThreeNodes"/> (0.0.1.1-3), each
/// with the options given, started once for the tests of one class and warmed up; disposed after
/// its last test. Each derived type is the mesh of one test class (xunit makes a fixture from its
/// type, so the options are the derived type's).
/// </summary>
/// <param name="options">Each node's `kaze run` options besides those <see cref="LoopbackMesh"/> sets.</param>
public abstract class SharedMesh(params string[] options) : IAsyncLifetime
{
    internal LoopbackMesh Mesh { get; } = new();

    public async Task InitializeAsync()
    {
        try
        {
            await Mesh.StartAsync(LoopbackMesh.ThreeNodes(options));
            await Mesh.WarmUpAsync();
        }
        catch
        {
            Mesh.Dispose();
            throw;
        }
    }

    public Task DisposeAsync()
    {
        Mesh.Dispose();
        return Task.CompletedTask;
    }
}
