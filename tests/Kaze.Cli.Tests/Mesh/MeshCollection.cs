using Xunit;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// The mesh tests: each starts three real `kaze run` sidecars (six .NET processes with their hosts)
/// on loopback ports. They run one at a time and after the parallel tests: on a small machine,
/// overlapping meshes would turn their timeouts and backoffs into noise.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeshCollection
{
    public const string Name = "Mesh (three sidecars on loopback)";
}
